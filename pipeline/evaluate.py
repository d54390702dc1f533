"""Stage evaluate: the model against baselines (spend rank, growth rank, RFM, logistic regression on the same
features, fitted on the same training cutoffs) on the out-of-time test cutoff.

Writes DVC metrics (data.metrics_file), DVC plots (PR curve, cumulative gains) and the test-cutoff
predictions, and logs the metrics to the training run in MLflow.
"""

from __future__ import annotations

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
from models.estimator import predict_probability
from models.metrics import cumulative_gains, pr_curve, ranking_metrics
from pipeline import tracking
from pipeline.config import Params
from pipeline.demo_data import GROUND_TRUTH_FILE, expected_spend
from pipeline.io import atomic_dir, read_parquet, write_csv, write_json
from pipeline.train import TARGET, load_panel, load_trained

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "test_predictions.parquet"
RECALL_GRID = np.linspace(0, 1, 101)


def _interpolated_precision(y: pd.Series, score: pd.Series) -> np.ndarray:
    """Best precision reachable at recall ≥ r, on a fixed recall grid (so curves share one x column)."""
    curve = pr_curve(y, score)
    best = np.maximum.accumulate(curve["precision"].to_numpy()[::-1])[::-1]
    idx = np.searchsorted(curve["recall"].to_numpy(), RECALL_GRID, side="left")
    return best[np.minimum(idx, len(best) - 1)]


def oracle_score(params: Params, test: pd.DataFrame) -> pd.Series | None:
    """On demo data: each test customer's expected outcome-window spend under the generator (the best
    ranking one could know). None for other data sources."""
    ground_truth_file = params.data.raw_dir / GROUND_TRUTH_FILE
    if params.data.source != "demo" or not ground_truth_file.is_file():
        return None
    cutoff = pd.Timestamp(test["cutoff"].iloc[0])
    horizon = pd.DateOffset(months=params.labels.horizon_months)
    expected = expected_spend(read_parquet(ground_truth_file), cutoff, cutoff + horizon)
    return pd.Series(test["customer_id"].map(expected).to_numpy(), index=test.index, name="oracle")


def evaluate_rankings(test: pd.DataFrame, scores: dict[str, pd.Series], ks: tuple[int, ...]) -> dict:
    """Metrics of each ranking on the test rows, plus the model's PR-AUC ratio over the baseline."""
    y = test[TARGET]
    metrics = {name: ranking_metrics(y, score, ks) for name, score in scores.items()}
    baseline = metrics["spend_rank_baseline"]["pr_auc"]
    metrics["pr_auc_ratio_to_baseline"] = metrics["model"]["pr_auc"] / baseline if baseline > 0 else float("nan")
    best = max(metrics[name]["pr_auc"] for name in scores if name.endswith("_baseline"))
    metrics["pr_auc_ratio_to_best_baseline"] = metrics["model"]["pr_auc"] / best if best > 0 else float("nan")
    if "oracle" in metrics:
        metrics["pr_auc_share_of_oracle"] = metrics["model"]["pr_auc"] / metrics["oracle"]["pr_auc"]
    return metrics


def run(params: Params) -> dict:
    model, summary = load_trained(params)
    panel = load_panel(params)
    test = panel[panel["cutoff"] == pd.Timestamp(summary["test_cutoff"])].reset_index(drop=True)
    train = panel[panel["cutoff"].isin(pd.to_datetime(summary["train_cutoffs"]))]
    logistic = fit_logistic_regression(model.spec.conform(train), train[TARGET], model.spec, params.seed)
    X_test = model.spec.conform(test)
    scores = {
        "model": predict_probability(model.booster, X_test),
        "spend_rank_baseline": spend_rank_score(test),
        "growth_rank_baseline": growth_rank_score(test),
        "rfm_baseline": rfm_score(test),
        "logistic_regression_baseline": logistic_regression_score(logistic, X_test, model.spec),
    }
    oracle = oracle_score(params, test)
    if oracle is not None:
        scores["oracle"] = oracle
    metrics = evaluate_rankings(test, scores, params.evaluate.k)
    metrics["test_cutoff"] = summary["test_cutoff"]
    log.info("test PR-AUC model %.3f vs baseline %.3f", metrics["model"]["pr_auc"],
             metrics["spend_rank_baseline"]["pr_auc"])

    y = test[TARGET]
    pr = pd.DataFrame({"recall": RECALL_GRID} | {n: _interpolated_precision(y, s) for n, s in scores.items()})
    gains = None
    for name, score in scores.items():
        curve = cumulative_gains(y, score).rename(columns={"share_of_positives": name})
        gains = curve if gains is None else gains.merge(curve, on="share_contacted")
    predictions = test[["customer_id", "cutoff", TARGET, "outcome_spend"]].assign(
        **{f"{name}_score": score.to_numpy() for name, score in scores.items()}
    )
    write_csv(pr, params.data.pr_curve_file)
    write_csv(gains, params.data.gains_file)
    with atomic_dir(params.data.evaluation_dir) as tmp:
        predictions.to_parquet(tmp / PREDICTIONS_FILE, index=False)
    write_json(metrics, params.data.metrics_file)

    tracking.configure(params.mlflow)
    with mlflow.start_run(run_id=summary["run_id"]):
        for ranking in scores:
            mlflow.log_metrics({f"test_{ranking}_{k}": v for k, v in metrics[ranking].items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items() if k.startswith("pr_auc_")})
        mlflow.log_artifact(str(params.data.pr_curve_file), "evaluation")
        mlflow.log_artifact(str(params.data.gains_file), "evaluation")
    return metrics
