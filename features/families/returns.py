"""Share of the invoiced value returned as credit notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.common import from_units

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "returns"
READS = frozenset({"spend", "gross"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The returns feature (the same for every windows)."""
    return [catalogue.FeatureDef("returns_share_365d", NAME, "365d",
                                 "Credit notes / gross invoiced value in the 365 days before the cutoff (NaN without "
                                 "sales).", "share of purchases returned (last 365 days)", unit="share")]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    w = sources.days
    gross = w.sum("gross", 365)
    returned = gross - w.sum("spend", 365)
    return {"returns_share_365d": from_units(returned) / np.where(gross != 0, from_units(gross), np.nan)}
