"""Stage train: LightGBM on stacked training cutoffs, early stopping and probability calibration on the
validation cutoff (optionally after a seeded hyperparameter search on it), without the feature measures the
noise guard finds no stable signal in.

Writes the model (MLflow format, with signature, input example and feature spec) and a training summary
to data.model_dir, and logs params, metrics and the model to an MLflow run. The run and the summary carry the
model's fingerprint: the SHA-256 of each part file (checked before a registry version is loaded), of the feature
and label tables it learnt from (training_data_hash) and of everything else that shaped it (training_params_hash:
the params, the fingerprint schema, the training code and the fitting libraries' versions).
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd

import models
from features.labels import TARGET
from models.combined import FitReport, fit_prior, training_design
from models.split import TimeSplit
from models.tuning import TrialResult, search_hyperparameters
from pipeline.common import fitting, tracking
from pipeline.common.adapters import population_settings, split_of
from pipeline.common.artifacts import FEATURES_FILE, LABELS_FILE, MLFLOW_MODEL_DIR, SUMMARY_FILE, load_panel
from pipeline.common.config import Params
from pipeline.common.fingerprint import FINGERPRINT_SCHEMA, data_fingerprint, file_sha256, params_hash
from pipeline.common.fitting import fit_model_for, fit_settings, fitting_rows_for, hyperparameters_of
from pipeline.common.io import atomic_dir, write_json

log = logging.getLogger(__name__)

MODEL_SHAPING_GROUPS = ("model", "calibration", "tuning", "split", "features", "labels")  # params.yaml groups
FITTING_LIBRARIES = ("lightgbm", "scikit-learn")


def training_data_files(params: Params) -> list[Path]:
    """The tables the model learns from: the feature snapshots and the labels (what training_data_hash covers).
    Their bytes follow from the validated tables, the feature and label params and the feature code, so an
    equal hash means the same training rows."""
    return [params.data.features_dir / FEATURES_FILE, params.data.labels_dir / LABELS_FILE]


def training_code() -> dict:
    """The SHA-256 of each source file of the code that fits and stores the model (the models package, this
    stage, pipeline/common/fitting.py) and the fitting libraries' versions: a code change trains a model the
    registry does not hold yet, even on the same data and params."""
    package = Path(models.__file__).parent
    sources = {f"models/{path.relative_to(package).as_posix()}": path for path in package.rglob("*.py")}
    sources |= {"pipeline/train.py": Path(__file__), "pipeline/common/fitting.py": Path(fitting.__file__)}
    return {"sources": {name: file_sha256(path) for name, path in sorted(sources.items())},
            "libraries": {library: version(library) for library in FITTING_LIBRARIES}}


def training_settings(params: Params) -> dict:
    """Everything besides the data that shapes the trained model (what training_params_hash covers): the seed,
    the model, calibration, tuning, split, features and labels params, the fingerprint schema and the code."""
    return {"fingerprint_schema": FINGERPRINT_SCHEMA, "seed": params.seed,
            **{group: getattr(params, group).model_dump(mode="json") for group in MODEL_SHAPING_GROUPS},
            "code": training_code()}


def tuned_hyperparameters(params: Params, panel: pd.DataFrame, split: TimeSplit) -> dict:
    """The configured hyperparameters, or with tuning on the best of a seeded search on the validation cutoff
    (each trial a nested MLflow run of the active run)."""
    if not params.tuning.enabled:
        return hyperparameters_of(params)

    def log_trial(trial: TrialResult) -> None:
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params({f"model.{k}": v for k, v in trial.hyperparameters.items()})
            mlflow.log_metrics({"validation_average_precision": trial.validation_average_precision,
                                "best_iteration": trial.best_iteration})

    settings = fit_settings(params, hyperparameters_of(params))
    design = training_design(panel, split, settings)
    best, trials = search_hyperparameters(
        design.X_train, design.y_train, design.X_valid, design.y_valid, settings.hyperparameters,
        params.tuning.n_trials, params.seed, params.model.early_stopping_rounds, on_trial=log_trial,
        prior=fit_prior(design.X_train, design.y_train, settings.prior_features),
    )
    log.info("tuning: best validation average precision %.4f over %s trials",
             max(t.validation_average_precision for t in trials), len(trials))
    return best


def signal_summary(report: FitReport) -> dict | None:
    """The noise guard's part of the training summary: the validation average precision of the fit on every
    column, each measure's test and the measures left out; None when the guard was off."""
    signal = report.signal
    if signal is None:
        return None
    return {
        "validation_average_precision_all_features": signal.average_precision,
        "dropped": [m.measure for m in signal.dropped],
        "measures": [m.to_dict() for m in signal.measures],
    }


def run(params: Params) -> dict:
    """Stage entry: fit, calibrate and log the model (MLflow run) and write it to data.model_dir."""
    panel = load_panel(params)
    data_hash = data_fingerprint(training_data_files(params))
    split = split_of(params, panel)
    train = fitting_rows_for(params, panel, split)
    tracking.configure(params.mlflow)
    with mlflow.start_run() as run_:
        chosen = tuned_hyperparameters(params, panel, split)
        model, report = fit_model_for(params, panel, split, chosen)
        result, guard = report.training, params.model.signal_guard
        example = train[list(model.spec.columns)].head(5)
        mlflow.log_params({f"model.{k}": v for k, v in chosen.items()})
        mlflow.log_params({
            "seed": params.seed,
            "model.early_stopping_rounds": params.model.early_stopping_rounds,
            "model.prior_features": list(params.model.prior_features),
            **{f"model.signal_guard.{k}": v for k, v in guard.model_dump().items()},
            "calibration.method": params.calibration.method,
            "calibration.isotonic_pseudo_rows": params.calibration.isotonic_pseudo_rows,
            "tuning.enabled": params.tuning.enabled,
            **population_settings(params),
            "split.train_cutoffs": f"{split.train[0].date()}..{split.train[-1].date()} ({len(split.train)})",
            "split.validation_cutoff": str(split.validation.date()),
            "split.test_cutoff": str(split.test.date()),
            "split.refit": params.split.refit,
        })
        mlflow.log_metrics({
            "best_iteration": result.best_iteration,
            "validation_average_precision": result.validation_average_precision,
            "train_rows": len(train),
            "train_positive_rate": float(train[TARGET].mean()),
        })
        logged = tracking.log_model(model, example)
        fingerprint = tracking.TrainingFingerprint(logged.artifact_sha256, data_hash,
                                                   params_hash(training_settings(params)))
        mlflow.set_tags(fingerprint.tags())
        validation = panel[panel["cutoff"] == split.validation]
        summary = {
            "run_id": run_.info.run_id,
            "model_uri": logged.uri,
            "best_iteration": result.best_iteration,
            "validation_average_precision": result.validation_average_precision,
            "hyperparameters": chosen,
            "prior": None if model.prior is None else model.prior.to_dict(),
            "signal_guard": signal_summary(report),
            "train_cutoffs": [str(c.date()) for c in split.train],
            "refit_cutoffs": [str(c.date()) for c in split.refit] if params.split.refit else [],
            "validation_cutoff": str(split.validation.date()),
            "test_cutoff": str(split.test.date()),
            "train_rows": len(train),
            "validation_rows": len(validation),
            "validation_positive_rate": float(validation[TARGET].mean()),
            **fingerprint.summary(),
        }
        with atomic_dir(params.data.model_dir) as tmp:
            tracking.save_model(model, example, str(tmp / MLFLOW_MODEL_DIR))
            write_json(summary, tmp / SUMMARY_FILE)
    return summary
