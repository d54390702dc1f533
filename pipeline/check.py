"""`kap check`: in seconds, before any heavy work, whether a run can succeed.

It checks the params (loading them already did), the exports (read and validated in memory with validate's own
rules, nothing written), the data's span, that every output path can be written, and the time plan: the
monthly cutoffs, the training / validation / test cutoffs, the backtest folds and, when the data exists, the
eligible customers and future key accounts at the validation and test cutoffs. A plan that cannot work stops
with a ConfigError (exit 2) that names a change of the knobs that makes it work, tried before it is proposed.
With `data.source: demo` the span is the one the demo generator will simulate (`demo.start_date`, `demo.years`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.spine import customers_seen_before
from pipeline.common.adapters import labelled_cutoffs, labels_for, split_of
from pipeline.common.config import Params, params_with
from pipeline.common.errors import ConfigError, UserInputError
from pipeline.common.fitting import backtest_test_cutoffs
from pipeline.common.validation import read_sources, validate_tables

MIN_TEST_POSITIVES = 5  # fewer future key accounts on the test cutoff leave PR-AUC and the gate to chance
INPUT_PATHS = ("raw_dir",)


@dataclass(frozen=True)
class Plan:
    """The cutoffs a run will use."""

    cutoffs: list[pd.Timestamp]
    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    test: pd.Timestamp
    backtest: list[pd.Timestamp]


def unwritable_outputs(params: Params) -> list[str]:
    """'key: path (why)' for every output path in params.data that cannot be created or replaced."""
    problems = []
    for key, value in params.data:
        if not isinstance(value, Path) or key in INPUT_PATHS:
            continue
        existing = value
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing != value and not existing.is_dir():
            problems.append(f"data.{key}: {value} (its parent {existing} is not a folder)")
        elif key.endswith("_dir") and existing == value and not value.is_dir():
            problems.append(f"data.{key}: {value} (a file, where a folder belongs)")
        elif not _can_write_in(existing if existing.is_dir() else existing.parent):
            problems.append(f"data.{key}: {value} ({existing} is not writable)")
    return problems


def _can_write_in(folder: Path) -> bool:
    """Whether a file can be created in `folder`, tried for real: permission bits say yes to root, and some file
    systems (/proc, read-only mounts) refuse whatever the bits say."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def time_plan(params: Params, first: pd.Timestamp, last: pd.Timestamp) -> Plan:
    """The plan for data from `first` to `last` (timestamps of the first and the last line)."""
    span = pd.DataFrame({"timestamp": [first, last]})
    cutoffs = labelled_cutoffs(params, span)
    panel = pd.DataFrame({"cutoff": cutoffs})
    split = split_of(params, panel)
    backtest = backtest_test_cutoffs(params, cutoffs, split.test)
    for fold in backtest:
        split_of(params, panel, fold)
    return Plan(cutoffs, split.train, split.validation, split.test, backtest)


def _candidates(params: Params) -> list[dict[str, object]]:
    """Changes to try, smallest first: fewer or closer backtest folds, a shorter gap, then shorter windows."""
    ev, labels = params.evaluate, params.labels
    folds = [{"evaluate.backtest_folds": n} for n in range(ev.backtest_folds - 1, 0, -1)]
    every = [{"evaluate.backtest_every_months": n} for n in range(ev.backtest_every_months - 1, 0, -1)]
    gaps = [{"split.validation_gap_months": n} for n in range(labels.horizon_months - 1, -1, -1)]
    windows = []
    for months in (9, 6, 4, 3, 2, 1):
        if months < labels.horizon_months:
            shorter = {"labels.horizon_months": months, "labels.active_months": min(labels.active_months, months),
                       "labels.key_account.trailing_months": min(labels.key_account.trailing_months, months)}
            windows += [shorter, shorter | {"evaluate.backtest_every_months": 1},
                        shorter | {"evaluate.backtest_every_months": 1, "evaluate.backtest_folds": 2}]
    return folds + every + gaps + windows


def feasible_change(params: Params, first: pd.Timestamp, last: pd.Timestamp) -> dict[str, object] | None:
    """The first candidate change whose plan works on this span, or None."""
    for change in _candidates(params):
        try:
            time_plan(params_with(params, change), first, last)
        except (ConfigError, ValueError):
            continue
        return change
    return None


def _span(params: Params, today: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame | None, str]:
    """First and last line, the validated transactions (None for the demo) and a line describing the data."""
    if params.data.source == "demo":
        first, end = params.demo.start, params.demo.end - pd.Timedelta(days=1)
        return first, end, None, f"demo world to simulate: {params.demo.n_customers:,} customers"
    tables = validate_tables(read_sources(params), params.data.files, today)
    tx = tables.transactions
    described = (f"{len(tx):,} lines of {tx['customer_id'].nunique():,} customers read and validated "
                 f"(nothing written)")
    return tx["timestamp"].min(), tx["timestamp"].max(), tx, described


def _positives(params: Params, transactions: pd.DataFrame, cutoffs: list[pd.Timestamp]) -> dict:
    labels = labels_for(params, transactions, customers_seen_before(transactions, cutoffs))
    eligible = labels[labels["eligible"]]
    return {cutoff: (int((eligible["cutoff"] == cutoff).sum()),
                     int(eligible.loc[eligible["cutoff"] == cutoff, "became_key_account"].sum()))
            for cutoff in cutoffs}


def _dates(cutoffs) -> str:
    cutoffs = list(cutoffs)
    if len(cutoffs) <= 4:
        return ", ".join(str(c.date()) for c in cutoffs)
    return f"{cutoffs[0].date()} .. {cutoffs[-1].date()} ({len(cutoffs)})"


def _suggestion(change: dict[str, object] | None) -> str:
    if change is None:
        return ("no change of labels.horizon_months, labels.active_months, labels.key_account.trailing_months, "
                "split.validation_gap_months or evaluate.backtest_folds / backtest_every_months makes it work: "
                "the history is too short")
    return "a plan that works: set " + ", ".join(f"{key}: {value}" for key, value in change.items())


def check(params: Params, today: pd.Timestamp | None = None) -> list[str]:
    """The report's lines; raises a UserInputError (exit 2) when a run cannot succeed."""
    today = pd.Timestamp.now().normalize() if today is None else today
    problems = unwritable_outputs(params)
    if problems:
        raise ConfigError("outputs cannot be written:\n  " + "\n  ".join(problems))
    first, last, transactions, described = _span(params, today)
    lines = [f"data: {first.date()} .. {last.date()}, {described}"]
    try:
        plan = time_plan(params, first, last)
    except ConfigError as exc:
        raise ConfigError(f"the time plan does not fit the data ({first.date()} .. {last.date()}): {exc}\n"
                          f"{_suggestion(feasible_change(params, first, last))}") from None
    history = max(params.labels.active_months, params.labels.key_account.trailing_months)
    lines += [
        f"cutoffs: {_dates(plan.cutoffs)}, every {params.features.cutoff_every_months} month(s); "
        f"{history}-month history window, {params.labels.horizon_months}-month horizon",
        f"training cutoffs: {_dates(plan.train)}; validation: {plan.validation.date()}; test: {plan.test.date()}",
        f"backtest folds' test cutoffs: {_dates(plan.backtest)}",
    ]
    if transactions is None:
        lines.append("eligible customers and future key accounts: known once the demo data exists")
        return lines
    counts = _positives(params, transactions, [plan.validation, plan.test])
    for name, cutoff in (("validation", plan.validation), ("test", plan.test)):
        eligible, positives = counts[cutoff]
        lines.append(f"{name} cutoff {cutoff.date()}: {eligible:,} eligible customers, {positives:,} became key "
                     "accounts")
    eligible, positives = counts[plan.test]
    if positives < MIN_TEST_POSITIVES:
        raise UserInputError(
            f"only {positives} of {eligible:,} eligible customers became key accounts at the test cutoff "
            f"{plan.test.date()} (at least {MIN_TEST_POSITIVES} are needed to measure a ranking): use more "
            "customers or history, or a wider key-account rule (labels.key_account.rule and its share)")
    return lines
