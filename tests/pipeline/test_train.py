"""Stage train and its params: the prior the trees boost from, the split, the seeded search, the fingerprint."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from features.catalogue import feature_catalogue
from features.labels import TARGET
from models.combined import FitReport
from models.estimator import TrainingResult
from models.signal import MeasureSignal, SignalGuard, SignalReport
from pipeline import train
from pipeline.common import tracking
from pipeline.common.adapters import split_of
from pipeline.common.artifacts import MLFLOW_MODEL_DIR, SUMMARY_FILE
from pipeline.common.config import params_from_dict
from pipeline.common.errors import ConfigError
from pipeline.common.fingerprint import data_fingerprint, file_sha256, params_hash
from pipeline.common.fitting import fit_settings, hyperparameters_of
from pipeline.train import signal_summary, training_data_files, training_settings, tuned_hyperparameters
from tests.conftest import small_params


def test_the_fit_settings_of_params_and_prior_features_never_a_lightgbm_argument():
    params = params_from_dict(small_params(model={"prior_features": ["spend_sum_365d"]}, calibration={
        "method": "platt"}, split={"refit": False}))
    settings = fit_settings(params, hyperparameters_of(params), extra_features=("noise_free_spend_30d",))
    catalogue = feature_catalogue(params.features.windows_days, params.features.families)
    assert settings.features == (*(f.name for f in catalogue), "noise_free_spend_30d")
    assert settings.categorical == tuple(f.name for f in catalogue if f.kind == "categorical") != ()
    assert (settings.target, settings.prior_features, settings.calibration_method, settings.refit) == (
        TARGET, ("spend_sum_365d",), "platt", False)
    assert not {"prior_features", "early_stopping_rounds", "signal_guard"} & set(settings.hyperparameters)
    assert settings.hyperparameters["learning_rate"] == params.model.learning_rate


def test_the_noise_guard_of_params_tests_the_catalogues_measures_and_is_off_when_disabled():
    guard = {"enabled": True, "repeats": 7, "z": 2.5, "min_drop": 0.001}
    params = params_from_dict(small_params(model={"signal_guard": guard}))
    settings = fit_settings(params, hyperparameters_of(params))
    assert settings.signal_guard == SignalGuard(repeats=7, z=2.5, min_drop=0.001)
    assert settings.measure_of["spend_sum_90d"] == settings.measure_of["spend_sum_365d"] == "spend_sum"
    assert settings.measure_of["firm_country"] == "firm_country"
    off = params_from_dict(small_params(model={"signal_guard": guard | {"enabled": False}}))
    assert fit_settings(off, hyperparameters_of(off)).signal_guard is None


@pytest.mark.parametrize("guard", [{"repeats": 1}, {"z": -1.0}, {"min_drop": 1.0}, {"shuffles": 5}])
def test_a_noise_guard_that_cannot_test_is_a_config_error(guard):
    with pytest.raises(ConfigError, match=r"model\.signal_guard\."):
        params_from_dict(small_params(model={"signal_guard": guard}))


def test_the_training_summary_records_every_measures_test_and_the_ones_left_out():
    measures = (MeasureSignal("spend_sum", ("spend_sum_90d", "spend_sum_365d"), 0.3, 0.01, 0.28, True, True),
                MeasureSignal("firm_age_years", ("firm_age_years",), -0.0002, 0.0009, -0.002, False, False))
    training = TrainingResult(booster=None, best_iteration=40, validation_average_precision=0.41)
    summary = signal_summary(FitReport(training, SignalReport(0.4, measures)))
    assert summary == {
        "validation_average_precision_all_features": 0.4, "dropped": ["firm_age_years"],
        "measures": [{"measure": "spend_sum", "columns": ["spend_sum_90d", "spend_sum_365d"], "mean_drop": 0.3,
                      "sd_drop": 0.01, "lower_bound": 0.28, "kept": True, "protected": True},
                     {"measure": "firm_age_years", "columns": ["firm_age_years"], "mean_drop": -0.0002,
                      "sd_drop": 0.0009, "lower_bound": -0.002, "kept": False, "protected": False}]}
    assert signal_summary(FitReport(training)) is None


@pytest.mark.parametrize("column", ["firm_industry", "spend_sum_999d"])
def test_prior_on_a_category_or_an_unknown_column_is_a_config_error(column):
    params = params_from_dict(small_params(model={"prior_features": [column]}))
    pattern = f"params: model.prior_features \\['{column}'\\] are not numeric.*e.g. spend_sum_30d.*spend_sum_365d"
    with pytest.raises(ConfigError, match=pattern):
        fit_settings(params, hyperparameters_of(params))


PANEL = pd.DataFrame({"cutoff": pd.date_range("2021-01-01", "2024-01-01", freq="MS")})


def test_the_configured_split_and_a_backtest_folds_own_split():
    params = params_from_dict(small_params(split={"test_cutoff": "2024-01-01", "validation_cutoff": "2022-11-01",
                                                  "validation_gap_months": None}))
    configured = split_of(params, PANEL)
    assert (configured.test, configured.validation) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2022-11-01"))
    fold = split_of(params, PANEL, pd.Timestamp("2023-07-01"))  # validation follows from the fold, not params
    assert (fold.test, fold.validation) == (pd.Timestamp("2023-07-01"), pd.Timestamp("2022-07-01"))
    assert max(fold.train) == pd.Timestamp("2021-07-01")  # every training outcome window ends by validation


def test_a_split_the_params_make_impossible_is_a_config_error():
    params = params_from_dict(small_params(labels={"horizon_months": 36}))
    with pytest.raises(ConfigError, match=r"split: no training cutoff ends.*check split.test_cutoff"):
        split_of(params, PANEL)


def test_tuning_runs_each_trial_as_a_nested_mlflow_run_and_returns_the_best(project):
    project()
    params = params_from_dict(small_params(
        features={"families": ["spend"]}, tuning={"enabled": True, "n_trials": 3},
        model={"n_estimators": 30, "early_stopping_rounds": 5, "n_jobs": 1}))
    columns = [f.name for f in feature_catalogue(params.features.windows_days, params.features.families)]
    rng = np.random.default_rng(0)
    panel = pd.DataFrame(rng.gamma(2.0, 100.0, (len(PANEL) * 200, len(columns))), columns=columns)
    panel["cutoff"] = np.repeat(PANEL["cutoff"].to_numpy(), 200)
    panel["became_key_account"] = panel["spend_sum_365d"] * rng.lognormal(0, 0.5, len(panel)) > 400
    split = split_of(params, panel)
    tracking.configure(params.mlflow)
    with mlflow.start_run() as parent:
        best = tuned_hyperparameters(params, panel, split)
    trials = MlflowClient().search_runs([parent.info.experiment_id],
                                        f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(t.info.run_name for t in trials) == ["trial-0", "trial-1", "trial-2"]
    top = max(trials, key=lambda t: t.data.metrics["validation_average_precision"])
    assert {k: str(v) for k, v in best.items()} == {k.removeprefix("model."): v for k, v in top.data.params.items()}
    untuned = params_from_dict(small_params(tuning={"enabled": False}))
    assert tuned_hyperparameters(untuned, panel, split) == hyperparameters_of(untuned)


def test_the_params_hash_follows_what_shapes_the_model_and_nothing_else():
    base = params_from_dict(small_params())
    reference = params_hash(training_settings(base))
    assert params_hash(training_settings(params_from_dict(small_params()))) == reference
    for changed in ({"seed": 7}, {"model": {"learning_rate": 0.2}}, {"calibration": {"method": "platt"}},
                    {"split": {"refit": not base.split.refit}}, {"labels": {"horizon_months": 6}},
                    {"features": {"families": ["spend"]}}):
        assert params_hash(training_settings(params_from_dict(small_params(**changed)))) != reference, changed
    for unrelated in ({"gate": {"min_pr_auc": 0.5}}, {"score": {"capacity": 7}}, {"mlflow": {"experiment": "x"}}):
        assert params_hash(training_settings(params_from_dict(small_params(**unrelated)))) == reference, unrelated
    code = training_settings(base)["code"]
    assert {"models/combined.py", "pipeline/train.py", "pipeline/common/fitting.py"} <= set(code["sources"])
    assert set(code["libraries"]) == {"lightgbm", "scikit-learn"}


def test_training_records_the_fingerprint_on_the_run_and_in_the_summary(project, monkeypatch):
    project()
    params = params_from_dict(small_params(
        features={"families": ["spend"]}, tuning={"enabled": False},
        model={"n_estimators": 30, "early_stopping_rounds": 5, "n_jobs": 1, "signal_guard": {"enabled": False}}))
    columns = [f.name for f in feature_catalogue(params.features.windows_days, params.features.families)]
    rng = np.random.default_rng(0)
    panel = pd.DataFrame(rng.gamma(2.0, 100.0, (len(PANEL) * 100, len(columns))), columns=columns)
    panel["cutoff"] = np.repeat(PANEL["cutoff"].to_numpy(), 100)
    panel[TARGET] = panel["spend_sum_365d"] * rng.lognormal(0, 0.5, len(panel)) > 400
    for path in training_data_files(params):  # the tables the data hash covers
        path.parent.mkdir(parents=True, exist_ok=True)
        panel.to_parquet(path)
    monkeypatch.setattr(train, "load_panel", lambda params: panel)

    summary = train.run(params)
    tags = MlflowClient().get_run(summary["run_id"]).data.tags
    assert summary["training_data_hash"] == tags["training_data_hash"] == data_fingerprint(
        training_data_files(params))
    assert summary["training_params_hash"] == tags["training_params_hash"] == params_hash(training_settings(params))
    hashes = summary["artifact_sha256"]
    assert {"booster", "feature_spec", "calibrator"} <= set(hashes)
    assert {part: tags[f"artifact_sha256.{part}"] for part in hashes} == hashes
    stored = yaml.safe_load((params.data.model_dir / MLFLOW_MODEL_DIR / "MLmodel").read_text(encoding="utf-8"))
    local = {part: file_sha256(params.data.model_dir / MLFLOW_MODEL_DIR / entry["path"])
             for part, entry in stored["flavors"]["python_function"]["artifacts"].items()}
    assert local == hashes  # the model folder holds the very files the run logged
    assert json.loads((params.data.model_dir / SUMMARY_FILE).read_text(encoding="utf-8")) == json.loads(
        json.dumps(summary))
