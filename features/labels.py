"""Key-account bar, eligibility and labels per (customer_id, cutoff).

At a cutoff `t`:
- the bar is measured on net spend in the trailing window `[t - trailing_months, t)`; customers at or
  above it are key accounts already and so not eligible;
- eligible customers are the ones below the bar that ordered in `[t - active_months, t)`;
- the label `became_key_account` says whether net spend in the outcome window `[t, t + horizon)` reached
  the bar measured, with the same rule, on that outcome window (so the bar follows growth and inflation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

LABEL_COLUMNS = [
    "customer_id", "cutoff", "trailing_spend", "key_account_bar", "is_key_account", "active", "eligible",
    "outcome_spend", "outcome_bar", "became_key_account",
]


@dataclass(frozen=True)
class KeyAccountRule:
    """How the key-account bar is set over a window of per-customer net spend."""

    rule: Literal["revenue_share", "top_share", "absolute"] = "revenue_share"
    revenue_share: float = 0.8
    top_share: float = 0.2
    absolute_amount: float = 100000.0  # per 12 months

    def bar(self, spend: pd.Series, window_months: int) -> float:
        """Smallest spend that makes a key account in a window with these per-customer spends."""
        if self.rule == "absolute":
            return self.absolute_amount * window_months / 12
        positive = np.sort(spend[spend > 0].to_numpy(dtype="float64"))[::-1]
        if len(positive) == 0:
            return math.inf
        if self.rule == "top_share":
            n_key = max(1, math.ceil(self.top_share * len(positive)))
            return float(positive[n_key - 1])
        if self.rule == "revenue_share":
            cumulative_share = np.cumsum(positive) / positive.sum()
            n_key = int(np.searchsorted(cumulative_share, self.revenue_share - 1e-12)) + 1
            return float(positive[min(n_key, len(positive)) - 1])
        raise ValueError(f"unknown key-account rule {self.rule!r}")


def window_spend(
    transactions: pd.DataFrame,
    cutoffs: list[pd.Timestamp],
    trailing_months: int,
    active_months: int,
    horizon_months: int,
) -> pd.DataFrame:
    """Per (customer_id, cutoff): net spend in `[t - trailing_months, t)`, lines with positive amount in
    `[t - active_months, t)` and net spend in `[t, t + horizon_months)`. Customers without lines in any
    of these windows are absent."""
    grid = pd.DataFrame({"cutoff": pd.to_datetime(cutoffs).astype("datetime64[us]")})
    grid["trailing_start"] = grid["cutoff"] - pd.DateOffset(months=trailing_months)
    grid["active_start"] = grid["cutoff"] - pd.DateOffset(months=active_months)
    grid["start"] = grid[["trailing_start", "active_start"]].min(axis=1)
    grid["end"] = grid["cutoff"] + pd.DateOffset(months=horizon_months)
    con = duckdb.connect()
    try:
        con.register("tx_raw", transactions[["customer_id", "timestamp", "amount"]])
        con.register("grid", grid)
        # DECIMAL sums are exact, so bars and labels do not depend on parallel summation order.
        return con.sql(
            """
            WITH tx AS (SELECT customer_id, timestamp, CAST(amount AS DECIMAL(18, 4)) AS amount FROM tx_raw)
            SELECT t.customer_id, g.cutoff,
                   coalesce(sum(t.amount) FILTER (t.timestamp >= g.trailing_start AND t.timestamp < g.cutoff), 0)
                       AS trailing_spend,
                   count(*) FILTER (t.timestamp >= g.active_start AND t.timestamp < g.cutoff AND t.amount > 0)
                       AS active_lines,
                   coalesce(sum(t.amount) FILTER (t.timestamp >= g.cutoff), 0) AS outcome_spend
            FROM tx t JOIN grid g ON t.timestamp >= g.start AND t.timestamp < g.end
            GROUP BY ALL
            """
        ).df()
    finally:
        con.close()


def build_labels(
    transactions: pd.DataFrame,
    spine: pd.DataFrame,
    rule: KeyAccountRule,
    horizon_months: int,
    active_months: int,
    trailing_months: int,
) -> pd.DataFrame:
    """Eligibility and label for every spine row (columns `LABEL_COLUMNS`).

    The bars use every customer with spend in the window, not only the spine, so that the bar does not
    depend on which customers one asks about.
    """
    cutoffs = sorted(pd.to_datetime(spine["cutoff"]).unique())
    spend = window_spend(transactions, cutoffs, trailing_months, active_months, horizon_months)
    bars = pd.DataFrame(
        [
            {
                "cutoff": cutoff,
                "key_account_bar": rule.bar(group["trailing_spend"], trailing_months),
                "outcome_bar": rule.bar(group["outcome_spend"], horizon_months),
            }
            for cutoff, group in spend.groupby("cutoff")
        ],
        columns=["cutoff", "key_account_bar", "outcome_bar"],  # a cutoff after every line has no spend at all
    )
    labels = pd.DataFrame(
        {"customer_id": spine["customer_id"].astype("str"), "cutoff": pd.to_datetime(spine["cutoff"])}
    )
    labels["cutoff"] = labels["cutoff"].astype("datetime64[us]")
    spend["cutoff"] = spend["cutoff"].astype("datetime64[us]")
    bars["cutoff"] = bars["cutoff"].astype("datetime64[us]")
    labels = labels.merge(spend, on=["customer_id", "cutoff"], how="left").merge(bars, on="cutoff", how="left")
    labels[["key_account_bar", "outcome_bar"]] = labels[["key_account_bar", "outcome_bar"]].fillna(math.inf)
    labels["trailing_spend"] = labels["trailing_spend"].fillna(0.0).astype("float64")
    labels["outcome_spend"] = labels["outcome_spend"].fillna(0.0).astype("float64")
    labels["is_key_account"] = labels["trailing_spend"] >= labels["key_account_bar"]
    labels["active"] = labels["active_lines"].fillna(0) > 0
    labels["eligible"] = labels["active"] & ~labels["is_key_account"]
    labels["became_key_account"] = labels["outcome_spend"] >= labels["outcome_bar"]
    return labels[LABEL_COLUMNS].reset_index(drop=True)
