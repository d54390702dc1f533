"""Distinct values (categories, products) bought, shared by the families `categories` and `products`."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from features import catalogue, sql

if TYPE_CHECKING:
    from features.builder import Sources
    from features.windows import DayRows, Probes, Windows

ADDED_WINDOWS_DAYS = (180, 365)  # breadth added beyond the opening basket: how far into an expansion a customer is


def added_features(family: str, noun: str) -> list[catalogue.FeatureDef]:
    """`<family>_added_<w>d`: values (categories, products) first bought in the window, beyond the opening basket."""
    return [catalogue.FeatureDef(f"{family}_added_{w}d", family, f"{w}d",
                                 f"{noun.capitalize()} bought for the first time in the {w} days before the cutoff, "
                                 f"not counting those of the customer's first purchase day (breadth added beyond "
                                 f"its opening basket).", f"{noun} added in last {w} days") for w in ADDED_WINDOWS_DAYS]


def distinct_counts(sources: Sources, family: str) -> dict[str, np.ndarray]:
    """`<family>_` distinct values bought in the last 365 days (`distinct_365d`), ever (`distinct_all`), first in
    the last 90 days (`new_90d`), and added beyond the opening basket in the last ADDED_WINDOWS_DAYS
    (`added_<d>d`): with bit masks off the rollup, or with events for values too many for them."""
    column = sources.lines.distinct_column(family)
    if column in sources.lines.mask_columns:
        counts = _by_masks(sources.days, f"{column}_mask", sources.probes)
    else:
        events = sources.probes.windows(sql.distinct_events(sources.con, column, 90, ADDED_WINDOWS_DAYS))
        # events on the cutoff day itself already apply (they are dated the day after the purchase)
        counts = {"distinct_365d": events.sum("d365", None, -1), "distinct_all": events.sum("d_all", None, -1),
                  **{n: events.sum(n, None, -1) for n in ["new_90d", *(f"added_{d}d" for d in ADDED_WINDOWS_DAYS)]}}
    return {f"{family}_{measure}": count for measure, count in counts.items()}


def _by_masks(w: Windows, mask: str, probes: Probes) -> dict[str, np.ndarray]:
    # one reduction over all history up to the earliest boundary, then the short segments between them
    # (a reduction from the customer's first row costs that row range again at every cutoff)
    bounds = sorted({90, 365, *ADDED_WINDOWS_DAYS}, reverse=True)
    w.prefetch(None, 0, *bounds)
    before = {bounds[0]: w.reduce(np.bitwise_or, mask, None, bounds[0])}
    in_year = np.zeros_like(before[bounds[0]])
    for start, end in itertools.pairwise([*bounds, 0]):
        bought = w.reduce(np.bitwise_or, mask, start, end)
        before[end] = before[start] | bought
        if start <= 365:
            in_year |= bought
    ever = before[0]
    beyond_opening = ~_opening_basket(w.rows, mask, probes)
    return {"distinct_365d": np.bitwise_count(in_year), "distinct_all": np.bitwise_count(ever),
            "new_90d": np.bitwise_count(ever & ~before[90]),
            **{f"added_{d}d": np.bitwise_count(ever & ~before[d] & beyond_opening) for d in ADDED_WINDOWS_DAYS}}


def _opening_basket(rows: DayRows, mask: str, probes: Probes) -> np.ndarray:
    """Per probe, the bit mask of its customer's first purchase day (0 without purchases; a first purchase on or
    after the cutoff does no harm: nothing bought then is counted)."""
    values = rows.columns[mask]
    bought = np.flatnonzero(values != 0)
    customer = rows.customer(bought)
    first = bought[np.diff(customer, prepend=-1) != 0]  # rows are sorted by customer, then day
    opening = np.zeros(max(customer.max(initial=-1), probes.customer.max(initial=-1)) + 1, values.dtype)
    opening[rows.customer(first)] = values[first]  # customer keys are positions 0, 1, ...
    return opening[probes.customer]
