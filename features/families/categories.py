"""Distinct product categories bought (last year, ever, new, added beyond the opening basket) and the share of
the top category."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.breadth import added_features, distinct_counts

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "categories"
READS = frozenset({"bought", "category_segments"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The categories features (the same for every windows)."""
    feature = catalogue.FeatureDef
    return [
        feature("categories_distinct_365d", NAME, "365d",
                "Distinct product categories bought in the 365 days before the cutoff.",
                "product categories bought in last 365 days"),
        feature("categories_distinct_all", NAME, "all", "Distinct product categories bought before the cutoff.",
                "product categories bought to date"),
        feature("categories_top_share_365d", NAME, "365d",
                "Share of the purchase value (lines with amount > 0) of the 365 days before the cutoff that went to "
                "its top category (1 = one category only); NaN without purchases.",
                "share of purchases in the top category (last 365 days)", unit="share"),
        feature("categories_new_90d", NAME, "90d",
                "Categories bought for the first time in the 90 days before the cutoff.",
                "new product categories in last 90 days"),
        *added_features(NAME, "product categories"),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    return distinct_counts(sources, NAME) | {"categories_top_share_365d": _top_share(sources)}


def _top_share(sources: Sources) -> np.ndarray:
    """Share of the purchase value (lines with amount > 0) of the last 365 days in its top category, from
    the value per (customer, category, segment): the year before cutoff c is segments
    position(c - 365) + 1 .. position(c) of the segment edges."""
    rows, probes, n_customers = sources.category_segments, sources.probes, len(sources.attributes)
    pairs, pair = np.unique(rows["customer"].astype(np.int64) << 32 | rows["category"], return_inverse=True)
    pair_customer = pairs >> 32
    first_pair = np.flatnonzero(np.r_[True, pair_customer[1:] != pair_customer[:-1]])[:len(pairs)]
    position = {day: i for i, day in enumerate(sources.segment_edges)}
    share = np.full(len(probes.customer), np.nan)
    for cutoff in probes.cutoffs:
        in_year = (rows["segment"] > position[cutoff - 365]) & (rows["segment"] <= position[cutoff])
        # float64 sums of integer units are exact below 2**53
        year = np.bincount(pair[in_year], weights=rows["value"][in_year], minlength=len(pairs))
        top, total = np.zeros(n_customers), np.zeros(n_customers)
        if len(pairs):
            top[pair_customer[first_pair]] = np.maximum.reduceat(year, first_pair)
            total[pair_customer[first_pair]] = np.add.reduceat(year, first_pair)
        at = np.flatnonzero(probes.cutoff_day == cutoff)
        customer = probes.customer[at]
        share[at] = top[customer] / np.where(total[customer] > 0, total[customer], np.nan)
    return share
