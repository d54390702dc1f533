"""Stage train: LightGBM on stacked training cutoffs, early stopping and probability calibration on the
validation cutoff (optionally after a seeded hyperparameter search on it).

Writes the model (MLflow format, with signature, input example and feature spec) and a training summary
to data.model_dir, and logs params, metrics and the model to an MLflow run.
"""

from __future__ import annotations

import logging

import mlflow
import pandas as pd

from features.catalogue import feature_catalogue
from models.calibration import fit_calibrator
from models.estimator import LogisticPrior, TrainingResult, predict_probability, refit_classifier, train_classifier
from models.spec import FeatureSpec
from models.split import TimeSplit
from models.tuning import TrialResult, search_hyperparameters
from pipeline.common import tracking
from pipeline.common.adapters import population_settings, split_of
from pipeline.common.artifacts import MLFLOW_MODEL_DIR, SUMMARY_FILE, TARGET, load_panel
from pipeline.common.config import Params
from pipeline.common.errors import ConfigError
from pipeline.common.io import atomic_dir, write_json

log = logging.getLogger(__name__)



def feature_spec_from(params: Params, train: pd.DataFrame, extra_features: tuple[str, ...] = ()) -> FeatureSpec:
    """The catalogue's features of the configured families, plus `extra_features` (numeric panel columns)."""
    catalogue = feature_catalogue(params.features.windows_days, params.features.families)
    categorical = [f.name for f in catalogue if f.kind == "categorical"]
    return FeatureSpec.fit(train, [f.name for f in catalogue] + list(extra_features), categorical)


def hyperparameters(params: Params) -> dict:
    """The LightGBM hyperparameters of params.model (without the keys that are not LightGBM's)."""
    values = params.model.model_dump()
    for key in ("early_stopping_rounds", "prior_features"):
        values.pop(key)
    return values


def fit_prior(params: Params, spec: FeatureSpec, X: pd.DataFrame, y: pd.Series) -> LogisticPrior | None:
    """The logistic prior on model.prior_features fitted on these rows; None when none is configured."""
    columns = params.model.prior_features
    if not columns:
        return None
    unusable = [c for c in columns if c not in spec.columns or c in spec.categorical]
    if unusable:
        raise ConfigError(f"params: model.prior_features {unusable} are not numeric features of the model "
                          f"(e.g. {', '.join(c for c in spec.columns if c.startswith('spend_sum'))})")
    return LogisticPrior.fit(X, y, columns)


def _design(params: Params, panel: pd.DataFrame, split: TimeSplit, extra_features: tuple[str, ...] = ()
            ) -> tuple[FeatureSpec, pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """The feature spec fitted on the rows the final model learns from, and the conformed training and
    validation data of early stopping."""
    train = panel[panel["cutoff"].isin(split.train)]
    valid = panel[panel["cutoff"] == split.validation]
    # category levels the final model knows
    spec = feature_spec_from(params, fitting_rows(params, panel, split), extra_features)
    log.info("training on %s rows (%s cutoffs), validating on %s rows", len(train), len(split.train), len(valid))
    return spec, spec.conform(train), train[TARGET], spec.conform(valid), valid[TARGET]


def fit_model(params: Params, panel: pd.DataFrame, split: TimeSplit, hyperparameters_: dict,
              extra_features: tuple[str, ...] = ()) -> tuple[tracking.KeyAccountModel, TrainingResult]:
    """LightGBM on the split's training cutoffs, early-stopped and calibrated on its validation cutoff; with
    split.refit the trees are then refitted with the rounds found on every cutoff through validation (the
    calibrator stays the one fitted on out-of-sample validation scores). `extra_features`: numeric panel
    columns to learn from besides the catalogue's, for trying candidate features before they join the library."""
    spec, X_train, y_train, X_valid, y_valid = _design(params, panel, split, extra_features)
    prior = fit_prior(params, spec, X_train, y_train)
    result = train_classifier(X_train, y_train, X_valid, y_valid, hyperparameters_,
                              params.model.early_stopping_rounds, params.seed, prior)
    calibrator = fit_calibrator(y_valid, predict_probability(result.booster, X_valid, prior).to_numpy(),
                                params.calibration.method, params.calibration.isotonic_pseudo_rows)
    booster = result.booster
    if params.split.refit:
        rows = fitting_rows(params, panel, split)
        X_rows = spec.conform(rows)
        prior = fit_prior(params, spec, X_rows, rows[TARGET])
        booster = refit_classifier(X_rows, rows[TARGET], hyperparameters_, result.best_iteration, params.seed, prior)
    return tracking.KeyAccountModel(booster, spec, calibrator, prior), result


def fitting_rows(params: Params, panel: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    """The rows the final model learns from: the training cutoffs, or with split.refit every cutoff through
    validation."""
    return panel[panel["cutoff"].isin(split.refit if params.split.refit else split.train)]


def tuned_hyperparameters(params: Params, panel: pd.DataFrame, split: TimeSplit) -> dict:
    """The configured hyperparameters, or with tuning on the best of a seeded search on the validation cutoff
    (each trial a nested MLflow run of the active run)."""
    if not params.tuning.enabled:
        return hyperparameters(params)

    def log_trial(trial: TrialResult) -> None:
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params({f"model.{k}": v for k, v in trial.hyperparameters.items()})
            mlflow.log_metrics({"validation_average_precision": trial.validation_average_precision,
                                "best_iteration": trial.best_iteration})

    spec, X_train, y_train, X_valid, y_valid = _design(params, panel, split)
    best, trials = search_hyperparameters(
        X_train, y_train, X_valid, y_valid, hyperparameters(params),
        params.tuning.n_trials, params.seed, params.model.early_stopping_rounds, on_trial=log_trial,
        prior=fit_prior(params, spec, X_train, y_train),
    )
    log.info("tuning: best validation average precision %.4f over %s trials",
             max(t.validation_average_precision for t in trials), len(trials))
    return best


def run(params: Params) -> dict:
    """Stage entry: fit, calibrate and log the model (MLflow run) and write it to data.model_dir."""
    panel = load_panel(params)
    split = split_of(params, panel)
    train = fitting_rows(params, panel, split)
    tracking.configure(params.mlflow)
    with mlflow.start_run() as run_:
        chosen = tuned_hyperparameters(params, panel, split)
        model, result = fit_model(params, panel, split, chosen)
        example = train[list(model.spec.columns)].head(5)
        mlflow.log_params({f"model.{k}": v for k, v in chosen.items()})
        mlflow.log_params({
            "seed": params.seed,
            "model.early_stopping_rounds": params.model.early_stopping_rounds,
            "model.prior_features": list(params.model.prior_features),
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
        model_uri = tracking.log_model(model, example)
        validation = panel[panel["cutoff"] == split.validation]
        summary = {
            "run_id": run_.info.run_id,
            "model_uri": model_uri,
            "best_iteration": result.best_iteration,
            "hyperparameters": chosen,
            "prior": None if model.prior is None else model.prior.to_dict(),
            "train_cutoffs": [str(c.date()) for c in split.train],
            "refit_cutoffs": [str(c.date()) for c in split.refit] if params.split.refit else [],
            "validation_cutoff": str(split.validation.date()),
            "test_cutoff": str(split.test.date()),
            "train_rows": len(train),
            "validation_rows": len(validation),
            "validation_positive_rate": float(validation[TARGET].mean()),
        }
        with atomic_dir(params.data.model_dir) as tmp:
            tracking.save_model(model, example, str(tmp / MLFLOW_MODEL_DIR))
            write_json(summary, tmp / SUMMARY_FILE)
    return summary
