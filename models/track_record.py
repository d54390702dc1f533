"""The realised track record of an issued list: how many of its accounts became key accounts, against the list sales
would have made by ranking on 12-month spend, and, with a holdout, how much handing the list to sales changed.

Pure functions of one list's members and the eligible population at its as-of date with known outcomes; reading the
ledger and computing outcomes is the pipeline's job.

Intervals are percentile bootstraps. The comparison with the spend-rank list resamples the eligible customers with
replacement, each keeping its membership in both lists, so the model's and spend rank's counts of a replicate come
from the same customers (a paired interval of their difference). Only customers that are in a list and became key
accounts move a count, so a replicate draws their multiplicities from the multinomial of resampling all eligible
customers: exact, and cheap for any population size. The uplift resamples the treated and the control accounts
separately (their key-account counts are binomial draws).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.labels import TARGET
from models.metrics import percentile_interval

SPEND_SCORE = "spend_rank_score"  # the population's column: models.baselines.spend_rank_score at the as-of date
MIN_COUNT = 10  # a group smaller than this gets "too few" instead of an interval
SPEND_RANK_WORDS = "ranking by 12-month spend"

Interval = tuple[float, float]


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are drawn: resamples, confidence level, seed, and the smallest group given an interval."""

    resamples: int
    confidence: float
    seed: int
    min_count: int = MIN_COUNT

    def interval(self, replicates: np.ndarray) -> Interval:
        """Percentile interval of the replicates."""
        return percentile_interval(replicates, self.confidence)

    @property
    def level(self) -> str:
        """The confidence level in words, e.g. 95%."""
        return f"{self.confidence:.0%}"


@dataclass(frozen=True)
class Reach:
    """Key accounts among a group of the issued list (tier A or its top k) and among the spend-rank list of the
    same size. Intervals are None for a group smaller than the bootstrap's min_count."""

    group: str
    size: int
    model: int
    spend_rank: int
    model_interval: Interval | None
    spend_rank_interval: Interval | None
    difference_interval: Interval | None

    @property
    def difference(self) -> int:
        """Key accounts the list reached beyond the spend-rank list (negative: fewer)."""
        return self.model - self.spend_rank

    @property
    def model_precision(self) -> float:
        """Share of the group that became key accounts."""
        return self.model / self.size if self.size else float("nan")

    @property
    def spend_rank_precision(self) -> float:
        """Share of the spend-rank list of the same size that became key accounts."""
        return self.spend_rank / self.size if self.size else float("nan")

    def compared(self, level: str) -> str:
        """The difference in words with its interval, e.g. 'difference +13, 95% interval +5 to +21'."""
        if self.difference_interval is None:
            return f"difference {signed(self.difference)}; too few accounts for an interval"
        low, high = self.difference_interval
        return f"difference {signed(self.difference)}, {level} interval {signed(low)} to {signed(high)}"

    def to_dict(self) -> dict:
        """Plain values for JSON."""
        return {"group": self.group, "size": self.size, "model": self.model, "spend_rank": self.spend_rank,
                "difference": self.difference, "model_precision": _number(self.model_precision),
                "spend_rank_precision": _number(self.spend_rank_precision),
                "model_interval": _listed(self.model_interval),
                "spend_rank_interval": _listed(self.spend_rank_interval),
                "difference_interval": _listed(self.difference_interval)}


@dataclass(frozen=True)
class Uplift:
    """Key-account rates of the tier-A accounts handed to sales (treated) and of those withheld (control), and the
    difference with its interval (None: a group smaller than min_count). `scope` completes 'Holdout ...', e.g.
    'on 2023-01-01'."""

    scope: str
    treated: int
    treated_key_accounts: int
    control: int
    control_key_accounts: int
    confidence: float
    min_count: int
    interval: Interval | None

    @property
    def treated_rate(self) -> float:
        """Key-account rate of the accounts handed to sales."""
        return self.treated_key_accounts / self.treated if self.treated else float("nan")

    @property
    def control_rate(self) -> float:
        """Key-account rate of the accounts withheld."""
        return self.control_key_accounts / self.control if self.control else float("nan")

    @property
    def difference(self) -> float:
        """Treated rate minus control rate."""
        return self.treated_rate - self.control_rate

    def line(self) -> str:
        """The uplift in plain words."""
        groups = (f"Holdout {self.scope}: of the {self.treated} tier-A accounts handed to sales, "
                  f"{_became(self.treated_key_accounts)} ({_percent(self.treated_rate)}); of the {self.control} "
                  f"withheld, {self.control_key_accounts} ({_percent(self.control_rate)})")
        if self.interval is None:
            difference = "" if np.isnan(self.difference) else f": difference {signed(self.difference * 100)} points"
            return (f"{groups}{difference}; too few accounts for an interval (fewer than {self.min_count} handed to "
                    "sales or withheld).")
        low, high = self.interval
        return (f"{groups}: difference {signed(self.difference * 100)} points, {self.confidence:.0%} interval "
                f"{signed(low * 100)} to {signed(high * 100)} points.")

    def to_dict(self) -> dict:
        """Plain values for JSON, with the line."""
        return {"scope": self.scope, "treated": self.treated, "treated_key_accounts": self.treated_key_accounts,
                "control": self.control, "control_key_accounts": self.control_key_accounts,
                "treated_rate": _number(self.treated_rate), "control_rate": _number(self.control_rate),
                "difference": _number(self.difference),
                "confidence": self.confidence, "min_count": self.min_count, "interval": _listed(self.interval),
                "line": self.line()}


@dataclass(frozen=True)
class ListResult:
    """The track record of one issued list. `left_out` counts members that are not eligible at the as-of date in
    today's data (revised exports): they are in no count."""

    as_of: str
    model_version: str
    horizon_months: int
    confidence: float
    eligible: int
    key_accounts: int
    left_out: int
    tier_a: Reach
    top_k: tuple[Reach, ...]
    uplift: Uplift | None

    @property
    def level(self) -> str:
        """The confidence level in words, e.g. 95%."""
        return f"{self.confidence:.0%}"

    def headline(self) -> str:
        """Tier A against the spend-rank list in one sentence (the sales report's header)."""
        a = self.tier_a
        return (f"Of the {a.size} accounts in tier A on {self.as_of}, {_became(a.model)} within "
                f"{self.horizon_months} months; {SPEND_RANK_WORDS} found {a.spend_rank} ({a.compared(self.level)}).")

    def lines(self) -> list[str]:
        """Every result in plain words: tier A, each top k, the members left out, the holdout."""
        lines = [self.headline()]
        lines += [f"In its {reach.group}, {_became(reach.model)}; {SPEND_RANK_WORDS} found {reach.spend_rank} "
                  f"({reach.compared(self.level)})." for reach in self.top_k]
        lines.append(f"{self.key_accounts} of the {self.eligible} customers eligible on {self.as_of} became key "
                     "accounts.")
        if self.left_out:
            verb = "is" if self.left_out == 1 else "are"
            lines.append(f"{self.left_out} of the list's accounts {verb} not eligible on {self.as_of} in today's "
                         f"data (revised exports) and {verb} left out of every count.")
        if self.uplift is not None:
            lines.append(self.uplift.line())
        return lines

    def to_dict(self) -> dict:
        """Plain values for JSON, with the headline and the lines."""
        return {"as_of": self.as_of, "model_version": self.model_version, "horizon_months": self.horizon_months,
                "confidence": self.confidence, "eligible": self.eligible, "key_accounts": self.key_accounts,
                "left_out": self.left_out, "tier_a": self.tier_a.to_dict(),
                "top_k": [reach.to_dict() for reach in self.top_k],
                "uplift": None if self.uplift is None else self.uplift.to_dict(),
                "headline": self.headline(), "lines": self.lines()}


def evaluate_list(as_of: str, model_version: str, members: pd.DataFrame, population: pd.DataFrame,
                  ks: Sequence[int], horizon_months: int, bootstrap: Bootstrap) -> ListResult:
    """The track record of one issued list.

    `members`: customer_id, rank, tier, holdout (every customer of tier A and the list's top ranks); `population`:
    the customers eligible at the as-of date with `became_key_account` (within the horizon) and `spend_rank_score`.
    Each k of `ks` whose top k the members cover is evaluated; every spend-rank list holds as many customers as the
    list's group it is compared with (ties in spend broken by customer id)."""
    eligible = population.drop_duplicates("customer_id").set_index("customer_id")
    outcome = eligible[TARGET].astype(bool)
    spend_order = (eligible[SPEND_SCORE].astype("float64").fillna(-np.inf).rename("score").reset_index()
                   .sort_values(["score", "customer_id"], ascending=[False, True])["customer_id"].to_numpy())
    present = members[members["customer_id"].isin(eligible.index)]
    tier_a = present["tier"] == "A"
    groups = {"tier A": present.loc[tier_a, "customer_id"].to_numpy()}
    covered = _covered_ranks(members["rank"])
    groups |= {f"top {k}": present.loc[present["rank"] <= k, "customer_id"].to_numpy() for k in ks if k <= covered}
    spend_lists = {name: spend_order[:len(ids)] for name, ids in groups.items()}
    reaches = _reaches(outcome, groups, spend_lists, bootstrap)
    return ListResult(as_of=as_of, model_version=model_version, horizon_months=horizon_months,
                      confidence=bootstrap.confidence, eligible=len(eligible), key_accounts=int(outcome.sum()),
                      left_out=len(members) - len(present), tier_a=reaches[0], top_k=tuple(reaches[1:]),
                      uplift=_list_uplift(as_of, present[tier_a], outcome, bootstrap))


def uplift(scope: str, treated: int, treated_key_accounts: int, control: int, control_key_accounts: int,
           bootstrap: Bootstrap) -> Uplift:
    """Treated against control key-account rates with a bootstrap interval of their difference (None when either
    group is smaller than bootstrap.min_count)."""
    interval = None
    if min(treated, control) >= bootstrap.min_count:
        rng = np.random.default_rng(bootstrap.seed)
        treated_rates = rng.binomial(treated, treated_key_accounts / treated, bootstrap.resamples) / treated
        control_rates = rng.binomial(control, control_key_accounts / control, bootstrap.resamples) / control
        interval = bootstrap.interval(treated_rates - control_rates)
    return Uplift(scope, treated, treated_key_accounts, control, control_key_accounts, bootstrap.confidence,
                  bootstrap.min_count, interval)


def pooled_uplift(uplifts: Sequence[Uplift], bootstrap: Bootstrap) -> Uplift | None:
    """The uplift over every list with a holdout, their treated and control accounts pooled (None without one).
    An account on several lists counts once per list."""
    if not uplifts:
        return None
    lists = "one list" if len(uplifts) == 1 else f"{len(uplifts)} lists"
    return uplift(f"over the {lists} with a holdout", sum(u.treated for u in uplifts),
                  sum(u.treated_key_accounts for u in uplifts), sum(u.control for u in uplifts),
                  sum(u.control_key_accounts for u in uplifts), bootstrap)


def _covered_ranks(ranks: pd.Series) -> int:
    """The largest r such that ranks 1..r are all among the members."""
    present = set(ranks.astype(int))
    r = 0
    while r + 1 in present:
        r += 1
    return r


def _reaches(outcome: pd.Series, groups: dict[str, np.ndarray], spend_lists: dict[str, np.ndarray],
             bootstrap: Bootstrap) -> list[Reach]:
    """Each group's and its spend-rank list's key accounts, with paired bootstrap intervals."""
    names = list(groups)
    lists = [groups[name] for name in names] + [spend_lists[name] for name in names]
    on_a_list = pd.Index(np.concatenate(lists)).unique()
    relevant = on_a_list[outcome.reindex(on_a_list).to_numpy(dtype=bool)]  # only these move a count
    membership = np.column_stack([relevant.isin(ids) for ids in lists]).astype("int64")
    counts = membership.sum(axis=0)
    replicates = _resampled_counts(membership, len(outcome), bootstrap)
    g = len(names)
    reaches = []
    for i, name in enumerate(names):
        enough = len(groups[name]) >= bootstrap.min_count
        model, spend = replicates[:, i], replicates[:, g + i]
        reaches.append(Reach(
            group=name, size=len(groups[name]), model=int(counts[i]), spend_rank=int(counts[g + i]),
            model_interval=bootstrap.interval(model) if enough else None,
            spend_rank_interval=bootstrap.interval(spend) if enough else None,
            difference_interval=bootstrap.interval(model - spend) if enough else None))
    return reaches


def _resampled_counts(membership: np.ndarray, n_eligible: int, bootstrap: Bootstrap) -> np.ndarray:
    """Each list's key accounts in `bootstrap.resamples` resamples of the n eligible customers (rows: resamples;
    columns: the lists); `membership` has a row per key account on some list."""
    relevant = membership.shape[0]
    if not relevant:
        return np.zeros((bootstrap.resamples, membership.shape[1]))
    rng = np.random.default_rng(bootstrap.seed)
    # the last category takes every eligible customer that moves no count
    multiplicities = rng.multinomial(n_eligible, [1 / n_eligible] * relevant + [1 - relevant / n_eligible],
                                     size=bootstrap.resamples)[:, :relevant]
    return (multiplicities @ membership).astype("float64")


def _list_uplift(as_of: str, tier_a: pd.DataFrame, outcome: pd.Series, bootstrap: Bootstrap) -> Uplift | None:
    """The uplift of one list's tier A (None when it held no account out)."""
    held = tier_a["holdout"].astype(bool).to_numpy()
    if not held.any():
        return None
    reached = outcome.reindex(tier_a["customer_id"]).to_numpy()
    return uplift(f"on {as_of}", int((~held).sum()), int(reached[~held].sum()), int(held.sum()),
                  int(reached[held].sum()), bootstrap)


def _became(count: int) -> str:
    return "1 became a key account" if count == 1 else f"{count} became key accounts"


def signed(value: float) -> str:
    """A whole number with its sign, 0 without one: +13, -2, 0."""
    rounded = round(value)
    return f"{rounded:+d}" if rounded else "0"


def _percent(rate: float) -> str:
    return "n/a" if np.isnan(rate) else f"{rate:.0%}"


def _number(value: float) -> float | None:
    """NaN as None: JSON has no NaN."""
    return None if np.isnan(value) else value


def _listed(interval: Interval | None) -> list[float | None] | None:
    return None if interval is None else [_number(interval[0]), _number(interval[1])]
