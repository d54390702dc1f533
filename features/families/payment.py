"""Days to pay and late payments of the invoices paid in the window."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.common import from_units

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "payment"
READS = frozenset({"paid"})
LATE_PAYMENT_DAYS = 30  # an invoice paid after more days than this counts as paid late


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The payment features (the same for every windows)."""
    feature = catalogue.FeatureDef
    return [
        feature("payment_days_mean_365d", NAME, "365d",
                "Mean days to pay of invoices paid in the 365 days before the cutoff; an invoice counts only once its "
                "payment date is before the cutoff (NaN without payments).", "average days to pay", unit="days"),
        feature("payment_days_trend_180d", NAME, "180d",
                "Mean days to pay of invoices paid in the last 180 days minus that of the 180 days before (negative = "
                "paying faster); NaN if either has no payment.", "change in days to pay", unit="days"),
        feature("payment_late_share_365d", NAME, "365d",
                f"Share of invoices paid in the last 365 days that took more than {LATE_PAYMENT_DAYS} days (NaN "
                "without payments).", "share of invoices paid late", unit="share"),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    w, v = sources.paid, {}

    def mean_days(start: int, end: int = 0) -> np.ndarray:
        paid = w.sum("paid", start, end)
        return from_units(w.sum("pay_days", start, end)) / np.where(paid > 0, paid, np.nan)

    v["payment_days_mean_365d"] = mean_days(365)
    v["payment_days_trend_180d"] = mean_days(180) - mean_days(360, 180)
    paid = w.sum("paid", 365)
    v["payment_late_share_365d"] = w.sum("late", 365) / np.where(paid > 0, paid, np.nan)
    return v
