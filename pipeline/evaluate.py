"""Stage evaluate: a rolling-origin backtest of the model against the baselines sales would use without it.

Each backtest fold has its own test cutoff (the last `evaluate.backtest_folds`, `backtest_every_months`
apart, ending at the split's test cutoff) and is trained only on cutoffs whose outcome windows end by that
test cutoff (models.split.time_split). The last fold evaluates the trained model itself; earlier folds refit
the same configuration. Every ranking is scored on the same eligible rows: the model, spend rank, growth
rank, RFM, logistic regression on the model's features and training cutoffs, BG/NBD + Gamma-Gamma expected
spend, and on demo data the generator's oracle.

Writes DVC metrics (data.metrics_file: the last fold at the top level, the backtest summary under
"backtest"), DVC plots (PR curve, cumulative gains, precision at k, calibration, PR-AUC per cutoff), the
predictions, per-fold and per-segment metrics and plot images to data.evaluation_dir, and logs it all to
the training run in MLflow.
"""

from __future__ import annotations

import itertools
import logging

import mlflow
import numpy as np
import pandas as pd

from models.baselines import (
    fit_logistic_regression,
    growth_rank_score,
    logistic_regression_score,
    rfm_score,
    spend_rank_score,
)
from models.clv import bgnbd_expected_spend
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
from pipeline.common import charts, tracking
from pipeline.common.adapters import backtest_test_cutoffs, split_of
from pipeline.common.artifacts import (
    FOLD_METRICS_FILE,
    PREDICTIONS_FILE,
    RELIABILITY_FILE,
    SEGMENTS_FILE,
    TARGET,
    load_panel,
    load_trained,
    load_validated,
)
from pipeline.common.config import Params
from pipeline.common.io import atomic_dir, read_parquet, write_csv, write_json
from pipeline.common.report import track_record
from pipeline.demo_data import GROUND_TRUTH_FILE, expected_spend_known_at
from pipeline.train import fit_model, fitting_rows

log = logging.getLogger(__name__)

RECALL_GRID = np.linspace(0, 1, 101)
MODEL = "model"
ORACLE = "oracle"
BASELINE_SUFFIX = "_baseline"
SPEND_RANK = "spend_rank" + BASELINE_SUFFIX  # what sales do without the model: rank by trailing 365-day spend
LOGISTIC_REGRESSION = "logistic_regression" + BASELINE_SUFFIX  # the one baseline whose scores are probabilities
SEGMENT_COLUMNS = {"industry": "firm_industry", "region": "firm_region", "country": "firm_country",
                   "size_band": "firm_employees", "tenure_band": "tenure_days_since_first_order"}


def oracle_score(params: Params, test: pd.DataFrame) -> pd.Series | None:
    """On demo data: each test customer's expected outcome-window spend under the generator, knowing every
    latent parameter but only the adoptions and churns that have shown by the cutoff (the best ranking one
    could know then). None for other data sources."""
    ground_truth_file = params.data.raw_dir / GROUND_TRUTH_FILE
    if params.data.source != "demo" or not ground_truth_file.is_file():
        return None
    cutoff = pd.Timestamp(test["cutoff"].iloc[0])
    horizon = pd.DateOffset(months=params.labels.horizon_months)
    expected = expected_spend_known_at(read_parquet(ground_truth_file), cutoff, cutoff + horizon, params.demo,
                                       params.seed)
    return pd.Series(test["customer_id"].map(expected).to_numpy(), index=test.index, name=ORACLE)


def segments_of(params: Params, test: pd.DataFrame) -> pd.DataFrame:
    """Segment labels per test row: industry, region, country, firm size band and tenure band (missing:
    unknown), each where the data has it (a column without any value is no segmentation)."""
    cfg = params.evaluate
    segments = pd.DataFrame(index=test.index)
    for name, column in SEGMENT_COLUMNS.items():
        if column not in test or test[column].isna().all():
            continue
        values = test[column]
        if name == "size_band":
            values = _banded(values.astype("float64"), cfg.size_band_employees, "employees")
        elif name == "tenure_band":
            values = _banded(values.astype("float64") / 365.25, cfg.tenure_band_years, "years")
        segments[name] = values.astype("string").fillna("unknown")
    return segments


def _banded(values: pd.Series, bounds: tuple[int, ...], unit: str) -> pd.Series:
    edges = [-np.inf, *bounds, np.inf]
    labels = [f"< {bounds[0]} {unit}"] + [f"{lo}–{hi} {unit}" for lo, hi in itertools.pairwise(bounds)]
    labels.append(f"≥ {bounds[-1]} {unit}")
    return pd.cut(values, edges, right=False, labels=labels)


def fold_predictions(params: Params, panel: pd.DataFrame, transactions: pd.DataFrame, test_cutoff: pd.Timestamp,
                     hyperparameters: dict, trained: tracking.KeyAccountModel | None = None) -> pd.DataFrame:
    """Every ranking's scores on the eligible rows of one test cutoff, plus the model's calibrated probability.
    The model is `trained` when given (the last fold), else fitted on the fold's own training cutoffs."""
    split = split_of(params, panel, test_cutoff)
    model = trained or fit_model(params, panel, split, hyperparameters)[0]
    train = fitting_rows(params, panel, split)  # the logistic regression learns from the model's rows
    test = panel[panel["cutoff"] == test_cutoff].reset_index(drop=True)
    X_test = model.spec.conform(test)
    logistic = fit_logistic_regression(model.spec.conform(train), train[TARGET], model.spec, params.seed)
    horizon_days = ((test_cutoff + pd.DateOffset(months=params.labels.horizon_months)) - test_cutoff).days
    bgnbd = bgnbd_expected_spend(transactions, test_cutoff, horizon_days, pd.Index(test["customer_id"]))
    raw = model.raw_score_conformed(X_test)
    scores = {
        MODEL: raw,
        SPEND_RANK: spend_rank_score(test),
        "growth_rank" + BASELINE_SUFFIX: growth_rank_score(test),
        "rfm" + BASELINE_SUFFIX: rfm_score(test),
        LOGISTIC_REGRESSION: logistic_regression_score(logistic, X_test, model.spec),
        "bgnbd_gamma_gamma" + BASELINE_SUFFIX: pd.Series(bgnbd.reindex(test["customer_id"]).to_numpy(), test.index),
    }
    oracle = oracle_score(params, test)
    if oracle is not None:
        scores[ORACLE] = oracle
    return pd.concat([
        test[["customer_id", "cutoff", TARGET, "outcome_spend"]],
        segments_of(params, test),
        pd.DataFrame({name: score.to_numpy() for name, score in scores.items()}, index=test.index),
        model.probability(raw).rename("model_probability"),
    ], axis=1)


def rankings_in(predictions: pd.DataFrame) -> list[str]:
    """The ranking columns of a predictions frame: the model, the baselines, the oracle if present."""
    return [c for c in predictions.columns if c in (MODEL, ORACLE) or c.endswith(BASELINE_SUFFIX)]


def fold_metrics(params: Params, fold: pd.DataFrame, seed: int) -> tuple[dict[str, dict[str, float]],
                                                                       dict[str, np.ndarray]]:
    """Every ranking's metrics on one fold with a bootstrap interval of PR-AUC (Brier score and ECE for the
    model, calibrated and raw, and for the logistic regression, whose scores are probabilities too), and the
    bootstrap replicates of PR-AUC per ranking (paired: the same resampled rows)."""
    cfg = params.evaluate
    y, revenue = fold[TARGET].to_numpy(), fold["outcome_spend"].to_numpy()
    metrics, replicates = {}, {}
    for name in rankings_in(fold):
        score = fold[name].to_numpy()
        values = ranking_metrics(y, score, cfg.k, future_revenue=revenue)
        values |= capacity_metrics(y, score, revenue, (*cfg.k, *cfg.capacity_shares))
        replicates[name] = bootstrap_average_precision(y, score, cfg.bootstrap_resamples, seed)
        low, high = percentile_interval(replicates[name], cfg.confidence)
        metrics[name] = values | {"pr_auc_ci_low": low, "pr_auc_ci_high": high}
    probabilities = [(MODEL, "", fold["model_probability"]), (MODEL, "_uncalibrated", fold[MODEL])]
    if LOGISTIC_REGRESSION in fold:
        probabilities.append((LOGISTIC_REGRESSION, "", fold[LOGISTIC_REGRESSION]))
    for name, suffix, probability in probabilities:
        metrics[name] |= {f"brier{suffix}": brier_score(y, probability),
                          f"ece{suffix}": expected_calibration_error(y, probability, cfg.calibration_bins)}
    return metrics, replicates


def with_ratios(metrics: dict[str, dict[str, float]]) -> dict:
    """The model's PR-AUC and precision at each k over the spend-rank and the best baseline, and its share of
    the oracle's PR-AUC (demo)."""
    model = metrics[MODEL]
    baselines = {name: m for name, m in metrics.items() if name.endswith(BASELINE_SUFFIX)}
    best = max(baselines, key=lambda name: baselines[name]["pr_auc"])
    ratios = {
        "pr_auc_ratio_to_baseline": _ratio(model["pr_auc"], metrics["spend_rank" + BASELINE_SUFFIX]["pr_auc"]),
        "pr_auc_ratio_to_best_baseline": _ratio(model["pr_auc"], baselines[best]["pr_auc"]),
        "best_baseline": best,
    }
    for key in (k for k in model if k.startswith("precision_at_")):
        ratios[f"{key}_ratio_to_best_baseline"] = _ratio(model[key], max(m[key] for m in baselines.values()))
    if ORACLE in metrics:
        ratios["pr_auc_share_of_oracle"] = _ratio(model["pr_auc"], metrics[ORACLE]["pr_auc"])
    return metrics | ratios


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def backtest_summary(params: Params, folds: list[pd.DataFrame], per_fold: list[dict],
                     replicates: list[dict[str, np.ndarray]]) -> dict:
    """Mean and spread (sd over the folds) of each ranking's metrics, min and max of PR-AUC, bootstrap
    intervals of the mean PR-AUC (rows resampled within every fold) and of the model's ratio to the best
    baseline, and the ratios of the mean metrics over the best baseline by mean."""
    confidence = params.evaluate.confidence
    summary: dict = {"test_cutoffs": [str(pd.Timestamp(f["cutoff"].iloc[0]).date()) for f in folds]}
    means, mean_replicates = {}, {}
    for name in rankings_in(folds[0]):
        table = pd.DataFrame([m[name] for m in per_fold]).select_dtypes("number")
        values = table.drop(columns=["pr_auc_ci_low", "pr_auc_ci_high"])
        means[name] = values.mean().to_dict()
        spreads = values.std(ddof=1) if len(values) > 1 else values.iloc[0] * 0.0
        mean_replicates[name] = np.mean([r[name] for r in replicates], axis=0)
        low, high = percentile_interval(mean_replicates[name], confidence)
        summary[name] = {
            **{f"{k}_mean": v for k, v in means[name].items()},
            **{f"{k}_std": float(v) for k, v in spreads.items()},
            "pr_auc_min": float(table["pr_auc"].min()),
            "pr_auc_max": float(table["pr_auc"].max()),
            "pr_auc_mean_ci_low": low,
            "pr_auc_mean_ci_high": high,
        }
    ratios = with_ratios(means)
    summary |= {k: v for k, v in ratios.items() if k not in means}
    low, high = percentile_interval(mean_replicates[MODEL] / mean_replicates[ratios["best_baseline"]], confidence)
    summary |= {"pr_auc_ratio_to_best_baseline_ci_low": low, "pr_auc_ratio_to_best_baseline_ci_high": high}
    return summary


def curves(params: Params, fold: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The DVC plot tables of one fold: PR curves, cumulative gains, precision at k, calibration."""
    y = fold[TARGET]
    names = rankings_in(fold)
    pr = pd.DataFrame({"recall": RECALL_GRID} | {n: _interpolated_precision(y, fold[n]) for n in names})
    gains = pd.DataFrame({"share_contacted": cumulative_gains(y, fold[MODEL])["share_contacted"]})
    for name in names:
        gains[name] = cumulative_gains(y, fold[name])["share_of_positives"].to_numpy()
    ks = np.unique(np.linspace(10, min(max(params.evaluate.k), len(fold)), 50).astype(int))
    at_k = pd.DataFrame({"k": ks} | {n: [precision_at_k(y, fold[n], k) for k in ks] for n in names})
    calibration = reliability_curve(y, fold["model_probability"], params.evaluate.calibration_bins)
    return {"pr": pr, "gains": gains, "precision_at_k": at_k, "calibration": calibration}


def _interpolated_precision(y: pd.Series, score: pd.Series) -> np.ndarray:
    """Best precision reachable at recall ≥ r, on a fixed recall grid (so curves share one x column)."""
    curve = pr_curve(y, score)
    best = np.maximum.accumulate(curve["precision"].to_numpy()[::-1])[::-1]
    idx = np.searchsorted(curve["recall"].to_numpy(), RECALL_GRID, side="left")
    return best[np.minimum(idx, len(best) - 1)]


def run(params: Params) -> dict:
    """Stage entry: the backtest, metrics.json, DVC plot tables, evaluation folder and MLflow logging."""
    trained, summary = load_trained(params)
    panel = load_panel(params)
    transactions = load_validated(params).transactions
    last = pd.Timestamp(summary["test_cutoff"])
    test_cutoffs = backtest_test_cutoffs(params, sorted(pd.to_datetime(panel["cutoff"].unique())), last)
    folds = []
    for cutoff in test_cutoffs:
        log.info("backtest fold with test cutoff %s", cutoff.date())
        folds.append(fold_predictions(params, panel, transactions, cutoff, summary["hyperparameters"],
                                      trained if cutoff == last else None))
    evaluated = [fold_metrics(params, fold, params.seed + i) for i, fold in enumerate(folds)]
    per_fold = [fold_values for fold_values, _ in evaluated]
    metrics = with_ratios(per_fold[-1]) | {"test_cutoff": str(last.date())}
    metrics["backtest"] = backtest_summary(params, folds, per_fold, [replicates for _, replicates in evaluated])
    log.info("test PR-AUC model %.3f vs best baseline %s %.3f; backtest mean %.3f over %s folds",
             metrics[MODEL]["pr_auc"], metrics["best_baseline"], metrics[metrics["best_baseline"]]["pr_auc"],
             metrics["backtest"][MODEL]["pr_auc_mean"], len(folds))

    per_fold_table = pd.DataFrame([
        {"test_cutoff": cutoff.date().isoformat(), "ranking": name, **values}
        for cutoff, fold_values in zip(test_cutoffs, per_fold, strict=True) for name, values in fold_values.items()
    ])
    pr_auc_by_cutoff = per_fold_table.pivot(index="test_cutoff", columns="ranking", values="pr_auc").reset_index()
    last_fold = folds[-1]
    segments = pd.concat([
        segment_metrics(last_fold, name, TARGET, rankings_in(last_fold))
        .rename(columns={"segment": "segment_value", "score_column": "ranking"}).assign(segment=name)
        for name in SEGMENT_COLUMNS if name in last_fold
    ], ignore_index=True)
    plot_tables = curves(params, last_fold)
    raw_reliability = reliability_curve(last_fold[TARGET], last_fold[MODEL], params.evaluate.calibration_bins)
    with atomic_dir(params.data.evaluation_dir) as tmp:
        pd.concat(folds, ignore_index=True).to_parquet(tmp / PREDICTIONS_FILE, index=False)
        per_fold_table.to_csv(tmp / FOLD_METRICS_FILE, index=False)
        segments.to_csv(tmp / SEGMENTS_FILE, index=False)
        pd.concat([raw_reliability.assign(probability="raw"), plot_tables["calibration"].assign(
            probability="calibrated")]).to_csv(tmp / RELIABILITY_FILE, index=False)
        charts.save_evaluation_charts(plot_tables, raw_reliability, pr_auc_by_cutoff, tmp)
    # the DVC plots and metrics last, once everything that can fail has: they never describe a failed run
    write_csv(plot_tables["pr"], params.data.pr_curve_file)
    write_csv(plot_tables["gains"], params.data.gains_file)
    write_csv(plot_tables["precision_at_k"], params.data.precision_at_k_file)
    write_csv(plot_tables["calibration"], params.data.calibration_file)
    write_csv(pr_auc_by_cutoff, params.data.backtest_file)
    write_json(metrics, params.data.metrics_file)

    tracking.configure(params.mlflow)
    with mlflow.start_run(run_id=summary["run_id"]):
        for ranking in rankings_in(last_fold):
            mlflow.log_metrics({f"test_{ranking}_{k}": v for k, v in metrics[ranking].items()})
            mlflow.log_metrics({f"backtest_{ranking}_{k}": v for k, v in metrics["backtest"][ranking].items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if isinstance(v, float)})
        mlflow.set_tag(tracking.TRACK_RECORD_TAG, track_record(
            summary["test_cutoff"], params.labels.horizon_months, params.evaluate.headline_k, metrics[MODEL],
            metrics[SPEND_RANK]))
        for path in (params.data.pr_curve_file, params.data.gains_file, params.data.precision_at_k_file,
                     params.data.calibration_file, params.data.backtest_file):
            mlflow.log_artifact(str(path), "evaluation/plots")
        mlflow.log_artifacts(str(params.data.evaluation_dir), "evaluation")
    return metrics
