"""Spines: the (customer_id, cutoff) rows features are built for.

Training uses many monthly cutoffs, scoring a single as-of date; both keep the customers that bought
anything before the cutoff, so the same builder serves both.
"""

from __future__ import annotations

import pandas as pd


def monthly_cutoffs(first: pd.Timestamp, last: pd.Timestamp, every_months: int = 1) -> list[pd.Timestamp]:
    """Cutoffs `first, first + every_months, ...` up to and including `last` (all normalised to midnight)."""
    if every_months < 1:
        raise ValueError("every_months must be at least 1")
    first, last = pd.Timestamp(first).normalize(), pd.Timestamp(last)
    cutoffs = []
    step = 0
    while (cutoff := first + pd.DateOffset(months=step * every_months)) <= last:
        cutoffs.append(cutoff)
        step += 1
    return cutoffs


def customers_seen_before(transactions: pd.DataFrame, cutoffs: list[pd.Timestamp]) -> pd.DataFrame:
    """Spine of every customer with at least one transaction line before each cutoff."""
    first_seen = transactions.groupby("customer_id", observed=True)["timestamp"].min()
    rows = [
        pd.DataFrame({"customer_id": first_seen.index[first_seen < cutoff], "cutoff": cutoff})
        for cutoff in cutoffs
    ]
    if not rows:
        return pd.DataFrame({"customer_id": pd.Series(dtype="str"), "cutoff": pd.Series(dtype="datetime64[us]")})
    spine = pd.concat(rows, ignore_index=True)
    spine["customer_id"] = spine["customer_id"].astype("str")
    spine["cutoff"] = spine["cutoff"].astype("datetime64[us]")
    return spine.sort_values(["cutoff", "customer_id"], ignore_index=True)
