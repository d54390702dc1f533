"""A rolling-origin backtest of the combined model against the baselines, as pure functions on tidy frames:
the folds' test cutoffs (`generate_cutoffs`), every ranking's predictions per fold (`cross_validation`), and
their metrics per fold, on the last fold and summarised over the folds, with the model's comparison with the
strongest simple baseline of each fold (`performance_metrics`); plus the plot tables and segment metrics of one
fold."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.baselines import (
    fit_logistic_regression,
    growth_rank_score,
    logistic_regression_score,
    order_count_rank_score,
    recency_weighted_spend,
    rfm_score,
    spend_rank_score,
    trailing_spend_rank_score,
)
from models.combined import KeyAccountModel
from models.metrics import (
    bootstrap_average_precision,
    brier_score,
    capacity_metrics,
    cumulative_gains,
    expected_calibration_error,
    percentile_interval,
    pr_curve,
    precision_at_k,
    ranking_metrics,
    reliability_curve,
    segment_metrics,
)
from models.rankings import (
    BGNBD,
    GROWTH_RANK,
    LOGISTIC_REGRESSION,
    MODEL,
    ORACLE,
    ORDER_COUNT_RANK,
    RECENCY_WEIGHTED_SPEND_RANK,
    RFM,
    SPEND_RANK,
    bar_window_spend_rank,
    baseline_names,
    is_baseline,
    rankings_in,
    spend_rank,
)
from models.spec import FeatureSpec

RECALL_GRID = np.linspace(0, 1, 101)
REVENUE = "outcome_spend"  # the label table's outcome-window spend: revenue captured is measured on it
PROBABILITY = "model_probability"  # the model's calibrated probability next to its raw score (MODEL)
SEGMENT_COLUMNS = {"industry": "firm_industry", "region": "firm_region", "country": "firm_country",
                   "size_band": "firm_employees", "tenure_band": "tenure_days_since_first_order"}


def generate_cutoffs(cutoffs: list[pd.Timestamp], last: pd.Timestamp, folds: int, every_months: int
                     ) -> list[pd.Timestamp]:
    """The folds' test cutoffs: `folds` cutoffs `every_months` apart, ending at `last`; a ValueError naming
    those that are not among `cutoffs`."""
    wanted = [last - pd.DateOffset(months=every_months * i) for i in reversed(range(folds))]
    missing = [str(c.date()) for c in wanted if c not in set(cutoffs)]
    if missing:
        raise ValueError(f"backtest test cutoffs {', '.join(missing)} are not labelled cutoffs "
                         f"(first {min(cutoffs).date()})")
    return wanted


@dataclass(frozen=True)
class SegmentBands:
    """Segment bounds of firm size (employees) and tenure (years since the first order)."""

    size_employees: tuple[int, ...]
    tenure_years: tuple[int, ...]


@dataclass(frozen=True)
class BaselineWindows:
    """The windows of the spend-rank baselines: the feature windows in days (the panel has `spend_sum_<w>d` for
    each) and the key-account bar's trailing window in months (the panel's `trailing_spend`)."""

    days: tuple[int, ...]
    bar_months: int


@dataclass(frozen=True)
class FittedFold:
    """A fold's model, the rows it learnt from, and the spec of every candidate feature before the noise guard
    left some out: the logistic-regression baseline learns from the same rows and all of those features, so a
    guard that narrows the model never narrows its yardstick."""

    model: KeyAccountModel
    training_rows: pd.DataFrame
    candidate_features: FeatureSpec


def segments_of(test: pd.DataFrame, bands: SegmentBands) -> pd.DataFrame:
    """Segment labels per test row: industry, region, country, firm size band and tenure band (missing:
    unknown), each where the data has it (a column without any value is no segmentation)."""
    segments = pd.DataFrame(index=test.index)
    for name, column in SEGMENT_COLUMNS.items():
        if column not in test or test[column].isna().all():
            continue
        values = test[column]
        if name == "size_band":
            values = _banded(values.astype("float64"), bands.size_employees, "employees")
        elif name == "tenure_band":
            values = _banded(values.astype("float64") / 365.25, bands.tenure_years, "years")
        segments[name] = values.astype("string").fillna("unknown")
    return segments


def _banded(values: pd.Series, bounds: tuple[int, ...], unit: str) -> pd.Series:
    edges = [-np.inf, *bounds, np.inf]
    labels = [f"< {bounds[0]} {unit}"] + [f"{lo}–{hi} {unit}" for lo, hi in itertools.pairwise(bounds)]
    labels.append(f"≥ {bounds[-1]} {unit}")
    return pd.cut(values, edges, right=False, labels=labels)


def fold_predictions(panel: pd.DataFrame, transactions: pd.DataFrame, test_cutoff: pd.Timestamp, fitted: FittedFold,
                     target: str, horizon_months: int, seed: int, bands: SegmentBands, windows: BaselineWindows,
                     oracle: Callable[[pd.DataFrame], pd.Series | None] | None = None) -> pd.DataFrame:
    """Every ranking's scores on the rows of one test cutoff (the baselines of `baseline_names`), with the label,
    outcome spend, segments and the model's calibrated probability. `oracle` gives the best ranking one could
    know (demo data), or None."""
    from models.clv import bgnbd_expected_spend  # PyMC takes seconds to import: only here, not with the module

    model, train = fitted.model, fitted.training_rows
    test = panel[panel["cutoff"] == test_cutoff].reset_index(drop=True)
    customers = pd.Index(test["customer_id"])
    X_test = model.spec.conform(test)
    candidates = fitted.candidate_features
    logistic = fit_logistic_regression(candidates.conform(train), train[target], candidates, seed)
    horizon_days = ((test_cutoff + pd.DateOffset(months=horizon_months)) - test_cutoff).days
    raw = model.raw_score_conformed(X_test)
    baselines = {spend_rank(w): spend_rank_score(test, w) for w in windows.days} | {
        bar_window_spend_rank(windows.bar_months): trailing_spend_rank_score(test),
        ORDER_COUNT_RANK: order_count_rank_score(test),
        RECENCY_WEIGHTED_SPEND_RANK: recency_weighted_spend(transactions, test_cutoff, customers),
        GROWTH_RANK: growth_rank_score(test),
        RFM: rfm_score(test),
        LOGISTIC_REGRESSION: logistic_regression_score(logistic, candidates.conform(test), candidates),
        BGNBD: bgnbd_expected_spend(transactions, test_cutoff, horizon_days, customers),
    }
    scores = {MODEL: raw} | {name: baselines[name] for name in baseline_names(windows.days, windows.bar_months)}
    known = None if oracle is None else oracle(test)
    if known is not None:
        scores[ORACLE] = known
    return pd.concat([
        test[["customer_id", "cutoff", target, REVENUE]],
        segments_of(test, bands),
        pd.DataFrame({name: score.to_numpy() for name, score in scores.items()}, index=test.index),
        model.probability(raw).rename(PROBABILITY),
    ], axis=1)


def cross_validation(panel: pd.DataFrame, transactions: pd.DataFrame, test_cutoffs: list[pd.Timestamp],
                     fit: Callable[[pd.Timestamp], FittedFold], target: str, horizon_months: int, seed: int,
                     bands: SegmentBands, windows: BaselineWindows,
                     oracle: Callable[[pd.DataFrame], pd.Series | None] | None = None,
                     on_fold: Callable[[pd.Timestamp], None] | None = None) -> pd.DataFrame:
    """Every ranking's predictions on each fold's test cutoff (one row per customer and fold, `cutoff` the
    fold's test cutoff); `fit` gives a fold's model trained only on what was known by its test cutoff."""
    folds = []
    for cutoff in test_cutoffs:
        if on_fold is not None:
            on_fold(cutoff)
        folds.append(fold_predictions(panel, transactions, cutoff, fit(cutoff), target, horizon_months, seed, bands,
                                      windows, oracle))
    return pd.concat(folds, ignore_index=True)


def folds_of(predictions: pd.DataFrame) -> list[pd.DataFrame]:
    """The predictions of each fold, in test-cutoff order, as `fold_predictions` gave them (a segment column
    another fold has but this one lacks is dropped again)."""
    folds = []
    for _, fold in predictions.groupby("cutoff", sort=True):
        empty = [name for name in SEGMENT_COLUMNS if name in fold and fold[name].isna().all()]
        folds.append(fold.drop(columns=empty).reset_index(drop=True))
    return folds


@dataclass(frozen=True)
class MetricSettings:
    """What the metrics measure: the sales capacities, the bootstrap of PR-AUC and the calibration bins."""

    k: tuple[int, ...]
    capacity_shares: tuple[float, ...]
    bootstrap_resamples: int
    confidence: float
    calibration_bins: int


def fold_metrics(fold: pd.DataFrame, target: str, settings: MetricSettings, seed: int
                 ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Every ranking's metrics on one fold with a bootstrap interval of PR-AUC (Brier score and ECE for the
    model, calibrated and raw, and for the logistic regression, whose scores are probabilities too), and the
    bootstrap replicates of PR-AUC per ranking (paired: the same resampled rows)."""
    y, revenue = fold[target].to_numpy(), fold[REVENUE].to_numpy()
    metrics, replicates = {}, {}
    for name in rankings_in(fold.columns):
        score = fold[name].to_numpy()
        values = ranking_metrics(y, score, settings.k, future_revenue=revenue)
        values |= capacity_metrics(y, score, revenue, (*settings.k, *settings.capacity_shares))
        replicates[name] = bootstrap_average_precision(y, score, settings.bootstrap_resamples, seed)
        low, high = percentile_interval(replicates[name], settings.confidence)
        metrics[name] = values | {"pr_auc_ci_low": low, "pr_auc_ci_high": high}
    probabilities = [(MODEL, "", fold[PROBABILITY]), (MODEL, "_uncalibrated", fold[MODEL])]
    if LOGISTIC_REGRESSION in fold:
        probabilities.append((LOGISTIC_REGRESSION, "", fold[LOGISTIC_REGRESSION]))
    for name, suffix, probability in probabilities:
        metrics[name] |= {f"brier{suffix}": brier_score(y, probability),
                          f"ece{suffix}": expected_calibration_error(y, probability, settings.calibration_bins)}
    return metrics, replicates


def strongest_baseline(metrics: dict[str, dict[str, float]], metric: str = "pr_auc") -> str:
    """The baseline with the highest `metric` among a fold's rankings (on a tie the first in table order; a NaN
    value never wins unless every one is NaN)."""
    baselines = [name for name in metrics if is_baseline(name)]
    if not baselines:
        raise ValueError(f"no baseline among the rankings {sorted(metrics)}")
    return max(baselines, key=lambda name: _or_lowest(metrics[name][metric]))


def _or_lowest(value: float) -> float:
    return -np.inf if np.isnan(value) else value


def comparisons(per_fold: list[dict[str, dict[str, float]]], replicates: list[dict[str, np.ndarray]],
                confidence: float) -> dict:
    """The model against the strongest simple baseline of each fold: the baseline with the best PR-AUC on that
    fold's own test cutoff (picked on the rows it is measured on, so the yardstick errs in the baseline's favour).

    The ratio of the model's mean PR-AUC over the folds to the mean of each fold's strongest baseline's, with a
    paired percentile interval (each replicate the same resampled rows of every fold for the model and that
    fold's strongest baseline: `fold_metrics`' replicates); for each precision at k the same ratio against the
    strongest baseline at that k (a team that calls k customers would pick the rule that fills those k best);
    the ratio to the 365-day spend rank (today's heuristic) and the share of the oracle's PR-AUC (demo). Names:
    `strongest_baselines` and `precision_at_<k>_strongest_baselines` list one baseline per fold."""
    strongest = [strongest_baseline(m) for m in per_fold]

    def mean_of(metric: str, names: list[str]) -> float:
        return float(np.mean([m[name][metric] for m, name in zip(per_fold, names, strict=True)]))

    model = [MODEL] * len(per_fold)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicate_ratios = (np.mean([r[MODEL] for r in replicates], axis=0)
                            / np.mean([r[name] for r, name in zip(replicates, strongest, strict=True)], axis=0))
    low, high = percentile_interval(replicate_ratios, confidence)
    result = {
        "strongest_baselines": strongest,
        "pr_auc_ratio_to_strongest_baseline": _ratio(mean_of("pr_auc", model), mean_of("pr_auc", strongest)),
        "pr_auc_ratio_to_strongest_baseline_ci_low": low,
        "pr_auc_ratio_to_strongest_baseline_ci_high": high,
    }
    if SPEND_RANK in per_fold[0]:
        result["pr_auc_ratio_to_spend_rank_baseline"] = _ratio(mean_of("pr_auc", model),
                                                               mean_of("pr_auc", [SPEND_RANK] * len(per_fold)))
    for key in (k for k in per_fold[0][MODEL] if k.startswith("precision_at_")):
        at_k = [strongest_baseline(m, key) for m in per_fold]
        result[f"{key}_strongest_baselines"] = at_k
        result[f"{key}_ratio_to_strongest_baseline"] = _ratio(mean_of(key, model), mean_of(key, at_k))
    if ORACLE in per_fold[0]:
        result["pr_auc_share_of_oracle"] = _ratio(mean_of("pr_auc", model),
                                                  mean_of("pr_auc", [ORACLE] * len(per_fold)))
    return result


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


@dataclass(frozen=True)
class Scorecard:
    """Every ranking's metrics (by ranking name) and the model's comparisons with the baselines."""

    rankings: dict[str, dict[str, float]]
    comparisons: dict


@dataclass(frozen=True)
class BacktestMetrics:
    """Metrics of each fold, of the last fold (the test cutoff) and summarised over the folds."""

    test_cutoffs: list[str]
    per_fold: list[dict[str, dict[str, float]]]
    test: Scorecard
    summary: Scorecard


def summarise(per_fold: list[dict[str, dict[str, float]]], replicates: list[dict[str, np.ndarray]],
              confidence: float) -> Scorecard:
    """Mean and spread (sd over the folds) of each ranking's metrics, min and max of PR-AUC, bootstrap
    intervals of the mean PR-AUC (rows resampled within every fold), for each baseline the number of folds it
    was the strongest in, and the model's `comparisons` with the strongest baseline of each fold."""
    compared = comparisons(per_fold, replicates, confidence)
    rankings = {}
    for name in per_fold[0]:
        table = pd.DataFrame([m[name] for m in per_fold]).select_dtypes("number")
        values = table.drop(columns=["pr_auc_ci_low", "pr_auc_ci_high"])
        spreads = values.std(ddof=1) if len(values) > 1 else values.iloc[0] * 0.0
        low, high = percentile_interval(np.mean([r[name] for r in replicates], axis=0), confidence)
        rankings[name] = {
            **{f"{k}_mean": v for k, v in values.mean().to_dict().items()},
            **{f"{k}_std": float(v) for k, v in spreads.items()},
            "pr_auc_min": float(table["pr_auc"].min()),
            "pr_auc_max": float(table["pr_auc"].max()),
            "pr_auc_mean_ci_low": low,
            "pr_auc_mean_ci_high": high,
        }
        if is_baseline(name):
            rankings[name]["folds_as_strongest_baseline"] = compared["strongest_baselines"].count(name)
    return Scorecard(rankings, compared)


def performance_metrics(predictions: pd.DataFrame, target: str, settings: MetricSettings, seed: int
                        ) -> BacktestMetrics:
    """Every ranking's metrics per fold of `cross_validation`'s predictions (fold i bootstrapped with seed
    `seed + i`), on the last fold with its comparisons, and summarised over the folds."""
    folds = folds_of(predictions)
    evaluated = [fold_metrics(fold, target, settings, seed + i) for i, fold in enumerate(folds)]
    per_fold, replicates = [values for values, _ in evaluated], [r for _, r in evaluated]
    return BacktestMetrics(
        test_cutoffs=[str(pd.Timestamp(f["cutoff"].iloc[0]).date()) for f in folds],
        per_fold=per_fold,
        test=Scorecard(per_fold[-1], comparisons(per_fold[-1:], replicates[-1:], settings.confidence)),
        summary=summarise(per_fold, replicates, settings.confidence),
    )


def per_fold_table(metrics: BacktestMetrics) -> pd.DataFrame:
    """One row per fold and ranking: its test cutoff, the fold's strongest baseline, the ranking and every
    metric."""
    folds = zip(metrics.test_cutoffs, metrics.summary.comparisons["strongest_baselines"], metrics.per_fold,
                strict=True)
    return pd.DataFrame([
        {"test_cutoff": cutoff, "strongest_baseline": strongest, "ranking": name, **values}
        for cutoff, strongest, fold_values in folds
        for name, values in fold_values.items()
    ])


def pr_auc_by_cutoff(per_fold: pd.DataFrame) -> pd.DataFrame:
    """PR-AUC per test cutoff (rows) and ranking (columns) of a `per_fold_table`."""
    return per_fold.pivot(index="test_cutoff", columns="ranking", values="pr_auc").reset_index()


def ranking_records(scorecard: Scorecard) -> list[dict]:
    """A scorecard's rankings as one record per ranking (a tidy table, also a DVC plot)."""
    return [{"ranking": name, **values} for name, values in scorecard.rankings.items()]


def scorecard_from(records: list[dict], comparisons_: dict) -> Scorecard:
    """The scorecard `ranking_records` and its comparisons were written from."""
    return Scorecard({r["ranking"]: {k: v for k, v in r.items() if k != "ranking"} for r in records}, comparisons_)


def segment_table(fold: pd.DataFrame, target: str) -> pd.DataFrame:
    """Every ranking's metrics per segment value of one fold (columns segment, segment_value, ranking, ...)."""
    return pd.concat([
        segment_metrics(fold, name, target, rankings_in(fold.columns))
        .rename(columns={"segment": "segment_value", "score_column": "ranking"}).assign(segment=name)
        for name in SEGMENT_COLUMNS if name in fold
    ], ignore_index=True)


def curves(fold: pd.DataFrame, target: str, max_k: int, calibration_bins: int) -> dict[str, pd.DataFrame]:
    """The plot tables of one fold: PR curves (`pr`), cumulative gains, precision at k up to `max_k` (one column
    per ranking) and the reliability of the calibrated probability (`calibration`) and of the raw score."""
    y = fold[target]
    names = rankings_in(fold.columns)
    pr = pd.DataFrame({"recall": RECALL_GRID} | {n: _interpolated_precision(y, fold[n]) for n in names})
    gains = pd.DataFrame({"share_contacted": cumulative_gains(y, fold[MODEL])["share_contacted"]})
    for name in names:
        gains[name] = cumulative_gains(y, fold[name])["share_of_positives"].to_numpy()
    ks = np.unique(np.linspace(10, min(max_k, len(fold)), 50).astype(int))
    at_k = pd.DataFrame({"k": ks} | {n: [precision_at_k(y, fold[n], k) for k in ks] for n in names})
    return {"pr": pr, "gains": gains, "precision_at_k": at_k,
            "calibration": reliability_curve(y, fold[PROBABILITY], calibration_bins),
            "raw_calibration": reliability_curve(y, fold[MODEL], calibration_bins)}


def _interpolated_precision(y: pd.Series, score: pd.Series) -> np.ndarray:
    """Best precision reachable at recall ≥ r, on a fixed recall grid (so curves share one x column)."""
    curve = pr_curve(y, score)
    best = np.maximum.accumulate(curve["precision"].to_numpy()[::-1])[::-1]
    idx = np.searchsorted(curve["recall"].to_numpy(), RECALL_GRID, side="left")
    return best[np.minimum(idx, len(best) - 1)]
