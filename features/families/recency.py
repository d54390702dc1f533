"""Days since the last order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "recency"
READS = frozenset({"orders"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The recency feature (the same for every windows)."""
    return [catalogue.FeatureDef("recency_days_since_last_order", NAME, "all",
                                 "Days from the last order to the cutoff (NaN without orders).",
                                 "days since last order", unit="days")]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    return {"recency_days_since_last_order": sources.probes.cutoff_day - sources.order_days.last_day(None)}
