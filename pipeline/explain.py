"""Stage explain: SHAP on the test cutoff: global summary plot and mean |SHAP| table."""

from __future__ import annotations

import logging

import matplotlib
import mlflow
import pandas as pd
import shap

from models.explain import mean_abs_shap, shap_explanation
from pipeline.common import tracking
from pipeline.common.artifacts import IMPORTANCE_TABLE, SUMMARY_PLOT, load_panel, load_trained
from pipeline.common.config import Params
from pipeline.common.io import atomic_dir

log = logging.getLogger(__name__)


def run(params: Params) -> pd.DataFrame:
    """Stage entry: SHAP summary plot and mean |SHAP| table on the test cutoff (data.explain_dir, MLflow)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, summary = load_trained(params)
    panel = load_panel(params)
    test = panel[panel["cutoff"] == pd.Timestamp(summary["test_cutoff"])]
    sample = test.sample(n=min(params.evaluate.shap_sample, len(test)), random_state=params.seed)
    explanation = shap_explanation(model.booster, model.spec.conform(sample), model.prior)
    importance = mean_abs_shap(explanation)
    with atomic_dir(params.data.explain_dir) as tmp:
        importance.to_csv(tmp / IMPORTANCE_TABLE, index=False)
        shap.plots.beeswarm(explanation, max_display=20, show=False)
        figure = plt.gcf()
        figure.set_size_inches(10, 8)
        figure.tight_layout()
        figure.savefig(tmp / SUMMARY_PLOT, dpi=110)
        plt.close(figure)
    tracking.configure(params.mlflow)
    with mlflow.start_run(run_id=summary["run_id"]):
        mlflow.log_artifacts(str(params.data.explain_dir), "explain")
    log.info("top features: %s", ", ".join(importance["feature"].head(5)))
    return importance
