"""Stage evaluate: a rolling-origin backtest of the model against the baselines sales would use without it.

Each backtest fold has its own test cutoff (the last `evaluate.backtest_folds`, `backtest_every_months`
apart, ending at the split's test cutoff) and is trained only on cutoffs whose outcome windows end by that
test cutoff (models.split.time_split). The last fold evaluates the trained model itself; earlier folds refit
the same configuration. Every ranking is scored on the same eligible rows: the model, the simple baselines of
models.rankings.baseline_names (spend rank at every feature window and at the key-account bar's window,
order-count rank, recency-weighted spend rank, growth rank, RFM, logistic regression on the model's features
and training cutoffs, BG/NBD + Gamma-Gamma expected spend), and on demo data the generator's oracle
(models.backtest does the maths). The model is compared with the strongest baseline of each fold.

Writes the headline DVC metrics (data.metrics_file, see `headline`); to data.evaluation_dir the predictions,
every ranking's metrics on the test cutoff and summarised over the backtest, the model's comparisons with the
strongest baselines, per-fold and per-segment metrics, the DVC plot tables (plots/) and plot images; and logs it
all to the training run in MLflow.
"""

from __future__ import annotations

import logging

import mlflow
import pandas as pd

from demo.oracle import GROUND_TRUTH_FILE, expected_spend_known_at
from features.labels import TARGET
from models.backtest import (
    BacktestMetrics,
    BaselineWindows,
    cross_validation,
    curves,
    folds_of,
    per_fold_table,
    performance_metrics,
    pr_auc_by_cutoff,
    ranking_records,
    segment_table,
)
from models.rankings import MODEL, ORACLE
from pipeline.common import charts, tracking
from pipeline.common.artifacts import (
    BACKTEST_SUMMARY_FILE,
    COMPARISONS_FILE,
    FOLD_METRICS_FILE,
    PLOT_FILES,
    PLOTS_DIR,
    PREDICTIONS_FILE,
    RELIABILITY_FILE,
    SEGMENTS_FILE,
    TEST_METRICS_FILE,
    load_panel,
    load_trained,
    load_validated,
)
from pipeline.common.config import Params
from pipeline.common.fitting import backtest_test_cutoffs, fitted_fold_for, metric_settings, segment_bands
from pipeline.common.io import atomic_dir, read_parquet, write_json
from pipeline.common.report import track_record

log = logging.getLogger(__name__)

HEADLINE_METRICS = ("pr_auc", "pr_auc_ci_low", "pr_auc_ci_high", "precision_at_{k}", "revenue_captured_at_{k}")


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


def headline(metrics: BacktestMetrics, k: int, test_cutoff: str) -> dict:
    """What one compares between experiments (`dvc exp show`, `dvc metrics diff`): for the model and the strongest
    baseline of the test cutoff, PR-AUC with its interval, precision and revenue captured at the headline capacity
    `k` (evaluate.headline_k, the one the plain words quote); the model's backtest mean PR-AUC, calibration error
    and PR-AUC ratio to that baseline; over the backtest its PR-AUC ratio to each fold's strongest baseline with
    the paired interval, and those baselines (one text, `cutoff: name; ...`: DVC shows no lists)."""
    test, backtest = metrics.test, metrics.summary
    [strongest] = test.comparisons["strongest_baselines"]

    def figures(name: str) -> dict:
        return {key.format(k=k): test.rankings[name][key.format(k=k)] for key in HEADLINE_METRICS}

    ratio = "pr_auc_ratio_to_strongest_baseline"
    per_fold = zip(metrics.test_cutoffs, backtest.comparisons["strongest_baselines"], strict=True)
    return {
        "test_cutoff": test_cutoff,
        MODEL: figures(MODEL) | {"ece": test.rankings[MODEL]["ece"],
                                 "backtest_pr_auc_mean": backtest.rankings[MODEL]["pr_auc_mean"]},
        "strongest_baseline": {"name": strongest, **figures(strongest)},
        ratio: test.comparisons[ratio],
        "backtest": {key: backtest.comparisons[key] for key in (ratio, f"{ratio}_ci_low", f"{ratio}_ci_high")}
        | {"strongest_baselines": "; ".join(f"{cutoff}: {name}" for cutoff, name in per_fold)},
    }


def run(params: Params) -> dict:
    """Stage entry: the backtest, metrics.json, the evaluation folder with the DVC plot tables, MLflow logging."""
    trained, summary = load_trained(params)
    panel = load_panel(params)
    last = pd.Timestamp(summary["test_cutoff"])
    predictions = cross_validation(
        panel, load_validated(params).transactions,
        backtest_test_cutoffs(params, sorted(pd.to_datetime(panel["cutoff"].unique())), last),
        lambda cutoff: fitted_fold_for(params, panel, cutoff, summary["hyperparameters"],
                                       trained if cutoff == last else None),
        TARGET, params.labels.horizon_months, params.seed, segment_bands(params),
        BaselineWindows(params.features.windows_days, params.labels.key_account.trailing_months),
        oracle=lambda test: oracle_score(params, test),
        on_fold=lambda cutoff: log.info("backtest fold with test cutoff %s", cutoff.date()))
    metrics = performance_metrics(predictions, TARGET, metric_settings(params), params.seed)
    test, backtest = metrics.test, metrics.summary
    [strongest] = test.comparisons["strongest_baselines"]
    log.info("test PR-AUC model %.3f vs strongest baseline %s %.3f; over %s backtest folds the model's mean PR-AUC is "
             "%.2fx that of each fold's strongest baseline [%.2f, %.2f]", test.rankings[MODEL]["pr_auc"], strongest,
             test.rankings[strongest]["pr_auc"], len(metrics.test_cutoffs),
             backtest.comparisons["pr_auc_ratio_to_strongest_baseline"],
             backtest.comparisons["pr_auc_ratio_to_strongest_baseline_ci_low"],
             backtest.comparisons["pr_auc_ratio_to_strongest_baseline_ci_high"])

    last_fold = folds_of(predictions)[-1]
    per_fold = per_fold_table(metrics)
    tables = curves(last_fold, TARGET, max(params.evaluate.k), params.evaluate.calibration_bins)
    tables["backtest"] = pr_auc_by_cutoff(per_fold)
    with atomic_dir(params.data.evaluation_dir) as tmp:
        predictions.to_parquet(tmp / PREDICTIONS_FILE, index=False)
        per_fold.to_csv(tmp / FOLD_METRICS_FILE, index=False)
        segment_table(last_fold, TARGET).to_csv(tmp / SEGMENTS_FILE, index=False)
        pd.concat([tables["raw_calibration"].assign(probability="raw"), tables["calibration"].assign(
            probability="calibrated")]).to_csv(tmp / RELIABILITY_FILE, index=False)
        write_json(ranking_records(test), tmp / TEST_METRICS_FILE)
        write_json(ranking_records(backtest), tmp / BACKTEST_SUMMARY_FILE)
        comparisons = {"test": test.comparisons,
                       "backtest": backtest.comparisons | {"test_cutoffs": metrics.test_cutoffs}}
        write_json(comparisons, tmp / COMPARISONS_FILE)
        (tmp / PLOTS_DIR).mkdir()
        for plot, file in PLOT_FILES.items():
            tables[plot].to_csv(tmp / PLOTS_DIR / file, index=False)
        charts.save_evaluation_charts(tables, tmp)
    # the DVC metrics last, once everything that can fail has: they never describe a failed run
    figures = headline(metrics, params.evaluate.headline_k, summary["test_cutoff"])
    write_json(figures, params.data.metrics_file)

    tracking.configure(params.mlflow)
    with mlflow.start_run(run_id=summary["run_id"]):
        for ranking in test.rankings:
            mlflow.log_metrics({f"test_{ranking}_{k}": v for k, v in test.rankings[ranking].items()})
            mlflow.log_metrics({f"backtest_{ranking}_{k}": v for k, v in backtest.rankings[ranking].items()})
        for scope, compared in (("test", test.comparisons), ("backtest", backtest.comparisons)):
            mlflow.log_metrics({f"{scope}_{k}": v for k, v in compared.items() if isinstance(v, float)})
            mlflow.set_tag(f"{scope}_strongest_baselines", ", ".join(compared["strongest_baselines"]))
        k = params.evaluate.headline_k
        [strongest_at_k] = test.comparisons[f"precision_at_{k}_strongest_baselines"]
        mlflow.set_tag(tracking.TRACK_RECORD_TAG, track_record(
            summary["test_cutoff"], params.labels.horizon_months, k, test.rankings, strongest_at_k))
        mlflow.log_artifacts(str(params.data.evaluation_dir), "evaluation")
    return figures
