"""Mean days between consecutive orders (to date, last year, its change), the change in days per order, and
the calendar months with purchases."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "cadence"
READS = frozenset({"orders", "purchase"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The cadence features (the same for every windows)."""
    feature = catalogue.FeatureDef
    return [
        feature("cadence_days_between_orders_all", NAME, "all",
                "Mean days between consecutive orders: (last order day - first order day) / (orders - 1); NaN with "
                "fewer than two orders.", "average days between orders", unit="days",
                orders_feature="orders_count_all"),
        feature("cadence_gap_mean_365d", NAME, "365d",
                "Mean days between consecutive orders in the 365 days before the cutoff: (last - first order day "
                "there) / (orders there - 1); NaN with fewer than two orders there.",
                "average days between orders (last year)", unit="days", orders_feature="orders_count_365d"),
        feature("cadence_gap_trend_365d", NAME, "365d",
                "Mean days between consecutive orders in the last 365 days minus that in the 365 days before "
                "(negative = ordering more often); NaN with fewer than two orders in either.",
                "change in days between orders vs the year before", unit="days"),
        feature("cadence_active_months_365d", NAME, "365d",
                "Calendar months with a purchase among the 365 days before the cutoff.",
                "months with purchases in the last year"),
        feature("cadence_days_per_order_trend_180d", NAME, "180d",
                "Days per order in the last 180 days minus in the 180 days before (negative = ordering more often); "
                "NaN without orders in either.", "change in days between orders", unit="days"),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    v, w, days_window = {}, sources.order_days, sources.days
    w.prefetch(None, 0, 365, 730)
    days_window.prefetch(None, 0, 180, 360, 365, 730)

    def mean_gap(start: int | None, end: int = 0) -> np.ndarray:
        """(last order day - first order day) / (orders - 1): the mean gap between consecutive orders."""
        orders = days_window.sum("orders", start, end)
        span = w.last_day(start, end) - w.first_day(start, end)
        return span / np.where(orders > 1, orders - 1, np.nan)

    v["cadence_days_between_orders_all"] = mean_gap(None)
    v["cadence_gap_mean_365d"] = mean_gap(365)
    v["cadence_gap_trend_365d"] = v["cadence_gap_mean_365d"] - mean_gap(730, 365)
    v["cadence_active_months_365d"] = _active_months(sources)
    last, before = days_window.sum("orders", 180), days_window.sum("orders", 360, 180)
    v["cadence_days_per_order_trend_180d"] = (180 / np.where(last > 0, last, np.nan)
                                              - 180 / np.where(before > 0, before, np.nan))
    return v


def _active_months(sources: Sources) -> np.ndarray:
    """Calendar months with a purchase (a line with amount > 0) in the last 365 days: the window's first
    purchase day opens a month, each later one whose month differs from the previous one's another."""
    purchases = sources.purchase_days
    month = purchases.day().astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    purchases.columns["new_month"] = np.r_[True, month[1:] != month[:-1]] if len(month) else month
    w = sources.probes.windows(purchases)
    first, count = w.position(365), w.count(365)
    prefix = purchases.prefix("new_month")
    later = prefix[first + count] - prefix[np.minimum(first + 1, first + count)]
    return np.where(count > 0, 1 + later, 0)
