"""Key-account bar, eligibility and labels per (customer_id, cutoff).

At a cutoff `t`:
- the bar is measured on net spend in the trailing window `[t - trailing_months, t)`; customers at or
  above it are key accounts already and so not eligible;
- eligible customers are the ones below the bar that ordered in `[t - active_months, t)` (optionally only
  those below a share of the bar, `max_share_of_bar`: for teams that want the customers far from it);
- the label `became_key_account` says whether net spend in the outcome window `[t, t + horizon)` reached
  the bar measured, with the same rule, on that outcome window (so the bar follows growth and inflation).

Eligibility needs no outcome window, so scoring at one as-of date asks `eligibility` what training reads from
`build_labels`: both apply the one rule of `_eligibility`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

ELIGIBILITY_COLUMNS = ["customer_id", "cutoff", "trailing_spend", "key_account_bar", "is_key_account", "eligible"]
TARGET = "became_key_account"  # the label column the model learns
LABEL_COLUMNS = [
    "customer_id", "cutoff", "trailing_spend", "key_account_bar", "is_key_account", "active", "eligible",
    "outcome_spend", "outcome_bar", "became_key_account",
]

Share = Annotated[StrictFloat, Field(gt=0, lt=1)]
Months = Annotated[StrictInt, Field(ge=1, le=240)]  # calendar arithmetic needs a span a history can have


class KeyAccountRule(BaseModel):
    """Which customers count as key accounts at a cutoff: the bar over a window of per-customer net spend."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Literal["revenue_share", "top_share", "absolute"] = Field("revenue_share", description="How the bar is set.")
    revenue_share: Share = Field(0.8, description="Rule revenue_share: key accounts make this share of revenue.")
    top_share: Share = Field(0.2, description="Rule top_share: the top share of customers by trailing revenue.")
    absolute_amount: StrictFloat = Field(
        100000.0, gt=0, description="Rule absolute: revenue per 12 months (scaled to the window length).")
    trailing_months: Months = Field(12, description="Window over which the bar is measured at the cutoff.")

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


def eligibility(
    transactions: pd.DataFrame, spine: pd.DataFrame, rule: KeyAccountRule, active_months: int,
    max_share_of_bar: float | None = None,
) -> pd.DataFrame:
    """Who is eligible at every spine row (columns `ELIGIBILITY_COLUMNS`): below the key-account bar of the
    trailing window (below `max_share_of_bar` times it, when given) and bought in the last `active_months`.
    Reads no line at or after a row's cutoff."""
    rows, cutoffs = _rows(spine)
    spend = window_spend(transactions, cutoffs, rule.trailing_months, active_months, horizon_months=0)
    return _eligibility(rows, cutoffs, spend, rule, max_share_of_bar)[ELIGIBILITY_COLUMNS]


def build_labels(
    transactions: pd.DataFrame,
    spine: pd.DataFrame,
    rule: KeyAccountRule,
    horizon_months: int,
    active_months: int,
    max_share_of_bar: float | None = None,
) -> pd.DataFrame:
    """Eligibility (as `eligibility`) and label for every spine row (columns `LABEL_COLUMNS`)."""
    rows, cutoffs = _rows(spine)
    spend = window_spend(transactions, cutoffs, rule.trailing_months, active_months, horizon_months)
    labels = _eligibility(rows, cutoffs, spend, rule, max_share_of_bar)
    labels["outcome_bar"] = labels["cutoff"].map(_bars(spend, "outcome_spend", rule, horizon_months, cutoffs))
    labels["outcome_spend"] = labels["outcome_spend"].fillna(0.0).astype("float64")
    labels[TARGET] = labels["outcome_spend"] >= labels["outcome_bar"]
    return labels[LABEL_COLUMNS].reset_index(drop=True)


def _rows(spine: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """The spine's (customer_id, cutoff) rows in the types `window_spend` returns, and its cutoffs."""
    rows = pd.DataFrame({
        "customer_id": spine["customer_id"].astype("str"),
        "cutoff": pd.to_datetime(spine["cutoff"]).astype("datetime64[us]"),
    })
    return rows, sorted(rows["cutoff"].unique())


def _eligibility(
    rows: pd.DataFrame, cutoffs: list[pd.Timestamp], spend: pd.DataFrame, rule: KeyAccountRule,
    max_share_of_bar: float | None,
) -> pd.DataFrame:
    """The spine rows with their window spends (`window_spend`), key-account bar and the eligibility rule's
    columns `is_key_account`, `active` and `eligible` (active, below the bar, and below `max_share_of_bar`
    times the bar when given).

    The bar uses every customer with spend in the window, not only the spine, so that the bar does not
    depend on which customers one asks about.
    """
    frame = rows.merge(spend, on=["customer_id", "cutoff"], how="left")
    frame["key_account_bar"] = frame["cutoff"].map(_bars(spend, "trailing_spend", rule, rule.trailing_months, cutoffs))
    frame["trailing_spend"] = frame["trailing_spend"].fillna(0.0).astype("float64")
    frame["is_key_account"] = frame["trailing_spend"] >= frame["key_account_bar"]
    frame["active"] = frame["active_lines"].fillna(0) > 0
    frame["eligible"] = frame["active"] & ~frame["is_key_account"]
    if max_share_of_bar is not None:
        frame["eligible"] &= frame["trailing_spend"] < max_share_of_bar * frame["key_account_bar"]
    return frame


def _bars(
    spend: pd.DataFrame, column: str, rule: KeyAccountRule, window_months: int, cutoffs: list[pd.Timestamp]
) -> pd.Series:
    """The bar of `rule` over the spends in `column` at each cutoff (indexed by cutoff); a cutoff without any
    spend gets the rule's bar for no spend."""
    by_cutoff = dict(list(spend.groupby("cutoff")[column]))
    no_spend = pd.Series(dtype="float64")
    bars = [rule.bar(by_cutoff.get(cutoff, no_spend), window_months) for cutoff in cutoffs]
    return pd.Series(bars, index=pd.DatetimeIndex(cutoffs, name="cutoff"), dtype="float64")
