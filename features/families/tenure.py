"""Days since the first order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "tenure"
READS = frozenset({"orders"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The tenure feature (the same for every windows)."""
    return [catalogue.FeatureDef("tenure_days_since_first_order", NAME, "all",
                                 "Days from the first order to the cutoff (NaN without orders).",
                                 "days since first order", unit="days")]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    return {"tenure_days_since_first_order": sources.probes.cutoff_day - sources.order_days.first_day(None)}
