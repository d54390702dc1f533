"""Every stage's outputs: their file names and the loaders later stages read them with.

A stage never imports another stage; it reads what an earlier one wrote through this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.common.config import Params
from pipeline.common.io import read_json, read_parquet
from pipeline.common.validation import ValidatedTables

if TYPE_CHECKING:
    from models.backtest import Scorecard
    from models.combined import KeyAccountModel

QUALITY_JSON = "quality.json"
QUALITY_MARKDOWN = "quality.md"
FEATURES_FILE = "features.parquet"
LABELS_FILE = "labels.parquet"
MLFLOW_MODEL_DIR = "mlflow_model"
SUMMARY_FILE = "training.json"
PREDICTIONS_FILE = "backtest_predictions.parquet"
FOLD_METRICS_FILE = "backtest_metrics.csv"
TEST_METRICS_FILE = "test_metrics.json"  # every ranking's metrics on the test cutoff, one record per ranking
BACKTEST_SUMMARY_FILE = "backtest_summary.json"  # ... summarised over the backtest folds
COMPARISONS_FILE = "comparisons.json"  # the model's ratios to the baselines: on the test cutoff, over the backtest
PLOTS_DIR = "plots"  # the DVC plot tables (dvc.yaml's top-level plots name each)
PLOT_FILES = {"pr": "pr_curve.csv", "gains": "gains.csv", "precision_at_k": "precision_at_k.csv",
              "calibration": "calibration.csv", "backtest": "backtest.csv"}
SEGMENTS_FILE = "segment_metrics.csv"
RELIABILITY_FILE = "reliability.csv"
SUMMARY_PLOT = "shap_summary.png"
IMPORTANCE_TABLE = "mean_abs_shap.csv"
PROSPECTS_STEM = "prospects"  # a scoring run's ranked list: .parquet, .csv, .xlsx
PROSPECTS_FILE = f"{PROSPECTS_STEM}.parquet"  # ... the whole table, the control group included
REPORT_FILE = "report.html"
SPEND_BY_MONTH_FILE = "spend_by_month.parquet"


def validated_file(folder: Path, table: str) -> Path:
    """The Parquet file of a validated table in `folder` (params.data.validated_dir)."""
    return folder / f"{table}.parquet"


def load_validated(params: Params) -> ValidatedTables:
    """The validate stage's tables."""
    folder = params.data.validated_dir
    snapshots = validated_file(folder, "firmographics")
    return ValidatedTables(
        customers=read_parquet(validated_file(folder, "customers")),
        transactions=read_parquet(validated_file(folder, "transactions")),
        firmographics=read_parquet(snapshots) if snapshots.is_file() else None,
        quality=read_json(folder / QUALITY_JSON),
    )


def load_features(params: Params) -> pd.DataFrame:
    """The features stage's snapshots."""
    return read_parquet(params.data.features_dir / FEATURES_FILE)


def load_labels(params: Params) -> pd.DataFrame:
    """The labels stage's table."""
    return read_parquet(params.data.labels_dir / LABELS_FILE)


def load_panel(params: Params) -> pd.DataFrame:
    """Eligible (customer, cutoff) rows with features and labels."""
    labels = load_labels(params)
    panel = load_features(params).merge(labels, on=["customer_id", "cutoff"], how="inner", validate="1:1")
    return panel[panel["eligible"]].reset_index(drop=True)


def load_trained(params: Params) -> tuple[KeyAccountModel, dict]:
    """The train stage's model and training summary."""
    # imported here: MLflow and LightGBM take seconds to load, which the stages reading only tables do not pay
    from pipeline.common import tracking

    model = tracking.load_model(str(params.data.model_dir / MLFLOW_MODEL_DIR))
    return model, read_json(params.data.model_dir / SUMMARY_FILE)


def plot_file(params: Params, plot: str) -> Path:
    """The CSV of a DVC plot table (a key of PLOT_FILES) under data.evaluation_dir."""
    return params.data.evaluation_dir / PLOTS_DIR / PLOT_FILES[plot]


def load_evaluation(params: Params) -> tuple[Scorecard, Scorecard]:
    """The evaluate stage's scorecards: on the test cutoff, and over the backtest (its comparisons name the
    folds' `test_cutoffs` too)."""
    from models.backtest import scorecard_from  # imported here, as in load_trained

    folder = params.data.evaluation_dir
    comparisons = read_json(folder / COMPARISONS_FILE)
    return (scorecard_from(read_json(folder / TEST_METRICS_FILE), comparisons["test"]),
            scorecard_from(read_json(folder / BACKTEST_SUMMARY_FILE), comparisons["backtest"]))
