"""From calibrated probabilities to what sales act on: a 1–99 score, tiers and a seeded control group.

Pure functions on ranked frames; the score stage wires them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIERS = ("A", "B", "C", "D")
NO_OWNER = "(no owner)"  # customers without an account owner share one group for per-owner capacity


def rank_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows (customer_id, probability, raw_score, ...) in rank order, `rank` from 1: by calibrated probability,
    the raw score breaking the ties of a calibration step, then the customer id. The index is kept."""
    ranked = scores.sort_values(["probability", "raw_score", "customer_id"], ascending=[False, False, True])
    return ranked.assign(rank=np.arange(1, len(ranked) + 1))


def score_1_99(raw_score: pd.Series) -> pd.Series:
    """A percentile-style score: 99 for the top 1% by `raw_score`, 1 for the lowest; equal raw scores get equal
    scores. Ranks, not probabilities, so it reads the same whatever the base rate."""
    n = len(raw_score)
    if n == 0:
        return pd.Series([], index=raw_score.index, dtype="int64")
    above = raw_score.rank(method="min", ascending=False).to_numpy() - 1  # rows ranked strictly above
    return pd.Series(np.maximum(1, 99 - np.floor(above * 99 / n)).astype("int64"), index=raw_score.index)


def assign_tiers(ranked: pd.DataFrame, capacity: int, capacity_per_owner: int | None, tier_b_share: float,
                 tier_c_share: float) -> pd.Series:
    """Tier per row of `ranked` (columns rank, 1 = best, and account_owner).

    A: the accounts sales can work in a horizon: the top `capacity` by rank, or with `capacity_per_owner` each
    owner's top N (customers without an owner form one group). B: the rest of the top `tier_b_share` of rows by
    rank; C: the rest of the top `tier_c_share`; D: everyone else."""
    n = len(ranked)
    rank = ranked["rank"].to_numpy()
    if capacity_per_owner is None:
        in_a = rank <= capacity
    else:
        owner = ranked["account_owner"].astype("object").where(ranked["account_owner"].notna(), NO_OWNER)
        in_a = (ranked["rank"].groupby(owner).rank(method="first") <= capacity_per_owner).to_numpy()
    tier = np.select([in_a, rank <= np.ceil(tier_b_share * n), rank <= np.ceil(tier_c_share * n)],
                     list(TIERS[:3]), TIERS[3])
    return pd.Series(tier, index=ranked.index, dtype="object")


def holdout_draw(tier: pd.Series, customer_id: pd.Series, share: float, seed: int) -> pd.Series:
    """True for a seeded `share` of tier A withheld from sales as a control group; the same customers, seed and
    share always draw the same group, whatever the row order."""
    held = pd.Series(False, index=tier.index)
    in_a = tier.index[tier.to_numpy() == "A"]
    n_held = round(share * len(in_a))
    if n_held == 0:
        return held
    order = np.sort(customer_id.loc[in_a].astype("str").to_numpy())
    chosen = np.random.default_rng(seed).choice(len(order), n_held, replace=False)
    held.loc[in_a] = customer_id.loc[in_a].astype("str").isin(set(order[chosen])).to_numpy()
    return held


def issued_list(prospects: pd.DataFrame) -> pd.DataFrame:
    """The rows sales receive: every prospect but the control group (the `holdout` column, dropped)."""
    if "holdout" not in prospects.columns:
        return prospects
    return prospects.loc[~prospects["holdout"].astype(bool)].drop(columns="holdout")
