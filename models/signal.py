"""The noise guard: which feature measures carry a stable signal, tested by grouped permutation importance on
rows the trees did not learn from (the validation cutoff).

A measure's columns (the windows of one quantity, e.g. spend in the last 30/90/180/365 days) are shuffled
together, with one row permutation per repeat, and the drop in average precision is recorded. Under the null
hypothesis that the model's use of the measure is unrelated to the outcome on these rows, the observed column
values are exchangeable with their permutations, so the unshuffled score is one more draw from the same
distribution as the shuffled ones: the drop's spread under the null is the shuffled scores' spread times
sqrt(1 + 1/repeats). A measure is kept when the mean drop exceeds `z` such spreads plus `min_drop`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

Score = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class SignalGuard:
    """How measures are tested: `repeats` shuffles each (at least 2, for a spread), the one-sided `z` of the
    test and the least mean drop in average precision worth keeping."""

    repeats: int = 5
    z: float = 2.0
    min_drop: float = 0.0

    def __post_init__(self) -> None:
        if self.repeats < 2:
            raise ValueError(f"repeats must be at least 2 (a spread needs two shuffles), got {self.repeats}")
        if self.z < 0 or self.min_drop < 0:
            raise ValueError(f"z and min_drop must not be negative, got {self.z} and {self.min_drop}")


@dataclass(frozen=True)
class MeasureSignal:
    """One measure's test: the mean and sd of the drop in average precision over the shuffles, the lower
    bound the verdict compares with `min_drop`, and whether the model keeps it (a protected measure, one the
    prior reads, is kept whatever its numbers)."""

    measure: str
    columns: tuple[str, ...]
    mean_drop: float
    sd_drop: float
    lower_bound: float
    kept: bool
    protected: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"columns": list(self.columns)}


@dataclass(frozen=True)
class SignalReport:
    """The guard's verdict on every measure of one fit, with the average precision the shuffles start from."""

    average_precision: float
    measures: tuple[MeasureSignal, ...]

    @property
    def dropped(self) -> tuple[MeasureSignal, ...]:
        return tuple(m for m in self.measures if not m.kept)

    @property
    def dropped_columns(self) -> tuple[str, ...]:
        return tuple(c for m in self.dropped for c in m.columns)


def measure_groups(columns: tuple[str, ...], measure_of: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The columns by measure, in column order; a column `measure_of` does not name is a measure of its own."""
    groups: dict[str, list[str]] = {}
    for column in columns:
        groups.setdefault(measure_of.get(column, column), []).append(column)
    return {measure: tuple(members) for measure, members in groups.items()}


def permutation_drops(score: Score, X: pd.DataFrame, y: pd.Series, groups: Mapping[str, tuple[str, ...]],
                      repeats: int, seed: int) -> tuple[float, dict[str, np.ndarray]]:
    """The average precision of `score` on (X, y) and, per group, its drop each time the group's columns are
    shuffled together (the same `repeats` row permutations for every group; seeded, so deterministic)."""
    rng = np.random.default_rng(seed)
    permutations = [rng.permutation(len(X)) for _ in range(repeats)]
    base = float(average_precision_score(y, score(X)))
    shuffled = X.copy()
    drops = {}
    for measure, columns in groups.items():
        members = list(columns)
        scores = []
        for order in permutations:
            shuffled[members] = X[members].iloc[order].set_axis(X.index)  # keeps category dtypes
            scores.append(average_precision_score(y, score(shuffled)))
        shuffled[members] = X[members]
        drops[measure] = base - np.asarray(scores, dtype="float64")
    return base, drops


def assess_signal(score: Score, X: pd.DataFrame, y: pd.Series, groups: Mapping[str, tuple[str, ...]],
                  guard: SignalGuard, seed: int, protected: tuple[str, ...] = (),
                  used: Collection[str] | None = None) -> SignalReport:
    """The guard's verdict on every group of columns of X for the model behind `score`. A group with none of
    the `used` columns (those the model reads; None: all) drops nothing and is not shuffled. Groups holding a
    `protected` column are kept. When every group would go, the one with the highest lower bound stays (a
    model needs a column). Without positives in y nothing can be tested and every group is kept untested."""
    if not y.any():
        return SignalReport(float("nan"), ())
    read = {m: columns for m, columns in groups.items() if used is None or set(columns) & set(used)}
    base, drops = permutation_drops(score, X, y, read, guard.repeats, seed)
    drops = {m: drops.get(m, np.zeros(guard.repeats)) for m in groups}
    inflation = np.sqrt(1 + 1 / guard.repeats)
    bounds = {m: float(d.mean() - guard.z * d.std(ddof=1) * inflation) for m, d in drops.items()}
    held = {m for m, columns in groups.items() if set(columns) & set(protected)}
    kept = {m for m, bound in bounds.items() if bound > guard.min_drop} | held
    if not kept:
        kept = {max(bounds, key=bounds.__getitem__)}
    return SignalReport(base, tuple(
        MeasureSignal(m, groups[m], float(d.mean()), float(d.std(ddof=1)), bounds[m], m in kept, m in held)
        for m, d in drops.items()))
