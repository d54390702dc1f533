"""Distinct products bought (last year, ever, new, added beyond the opening basket); categories stand in for
missing product ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.breadth import added_features, distinct_counts

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "products"
READS = frozenset({"bought"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The products features (the same for every windows)."""
    feature = catalogue.FeatureDef
    return [
        feature("products_distinct_365d", NAME, "365d", "Distinct products bought in the 365 days before the cutoff.",
                "products bought in last 365 days"),
        feature("products_distinct_all", NAME, "all", "Distinct products bought before the cutoff.",
                "products bought to date"),
        feature("products_new_90d", NAME, "90d", "Products bought for the first time in the 90 days before the cutoff.",
                "new products in last 90 days"),
        *added_features(NAME, "products"),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    return distinct_counts(sources, NAME)
