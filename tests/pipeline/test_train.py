"""Stage train: the logistic prior the trees boost from is configured by params and checked against the spec."""

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.catalogue import feature_catalogue
from models.spec import FeatureSpec
from pipeline import evaluate
from pipeline.common import tracking
from pipeline.common.adapters import split_of
from pipeline.common.config import params_from_dict
from pipeline.common.errors import ConfigError
from pipeline.train import fit_prior, hyperparameters, tuned_hyperparameters
from tests.conftest import small_params

FRAME = pd.DataFrame({"spend_sum_365d": [0.0, 10.0, 1000.0, 5000.0], "firm_industry": ["a", "b", "a", "b"]})
LABEL = pd.Series([False, False, True, True])
SPEC = FeatureSpec.fit(FRAME, ["spend_sum_365d", "firm_industry"], ["firm_industry"])


def test_no_prior_when_the_list_is_empty_and_never_a_lightgbm_argument():
    params = params_from_dict(small_params(model={"prior_features": []}))
    assert fit_prior(params, SPEC, SPEC.conform(FRAME), LABEL) is None
    configured = params_from_dict(small_params(model={"prior_features": ["spend_sum_365d"]}))
    assert "prior_features" not in hyperparameters(configured)
    prior = fit_prior(configured, SPEC, SPEC.conform(FRAME), LABEL)
    assert prior.columns == ("spend_sum_365d",) and prior.coefficients[0] > 0
    assert np.all(np.diff(prior.log_odds(SPEC.conform(FRAME))) > 0)


@pytest.mark.parametrize("column", ["firm_industry", "spend_sum_999d"])
def test_prior_on_a_category_or_an_unknown_column_is_a_config_error(column):
    params = params_from_dict(small_params(model={"prior_features": [column]}))
    with pytest.raises(ConfigError, match=f"model.prior_features \\['{column}'\\].*e.g. spend_sum_365d"):
        fit_prior(params, SPEC, SPEC.conform(FRAME), LABEL)


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


def test_each_backtest_fold_trains_on_the_split_of_its_own_test_cutoff(monkeypatch):
    fitted = []

    def record_split(params, panel, split, hyperparameters):
        fitted.append(split)
        raise RuntimeError("stop after the split")

    monkeypatch.setattr(evaluate, "fit_model", record_split)
    params = params_from_dict(small_params(split={"validation_gap_months": None}))
    for test_cutoff in (pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01")):
        with pytest.raises(RuntimeError, match="stop after the split"):
            evaluate.fold_predictions(params, PANEL, pd.DataFrame(), test_cutoff, {})
    assert [split.test for split in fitted] == [pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01")]
    for split in fitted:
        assert split.validation + pd.DateOffset(months=12) <= split.test
        assert all(c + pd.DateOffset(months=12) <= split.validation for c in split.train)


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
    assert tuned_hyperparameters(untuned, panel, split) == hyperparameters(untuned)
