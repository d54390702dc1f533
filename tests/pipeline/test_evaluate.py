"""The evaluate stage's wiring: backtest cutoffs and fold splits from params, the headline metrics, the plots."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from models.backtest import BacktestMetrics, Scorecard
from models.combined import KeyAccountModel
from models.rankings import MODEL, baseline_names
from models.spec import FeatureSpec
from pipeline.common import fitting
from pipeline.common.artifacts import PLOT_FILES, PLOTS_DIR
from pipeline.common.config import params_from_dict
from pipeline.common.errors import ConfigError
from pipeline.common.fitting import backtest_test_cutoffs, fitted_fold_for
from pipeline.evaluate import headline
from tests.conftest import small_params

MONTHLY = list(pd.date_range("2022-01-01", "2024-01-01", freq="MS"))
PANEL = pd.DataFrame({"cutoff": pd.date_range("2021-01-01", "2024-01-01", freq="MS")})
DVC_YAML = Path(__file__).resolve().parents[2] / "dvc.yaml"


def test_backtest_cutoffs_end_at_the_test_cutoff_spaced_as_configured():
    params = params_from_dict(small_params(evaluate={"backtest_folds": 4, "backtest_every_months": 3}))
    assert backtest_test_cutoffs(params, MONTHLY, pd.Timestamp("2024-01-01")) == [
        pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01"), pd.Timestamp("2023-10-01"),
        pd.Timestamp("2024-01-01"),
    ]


def test_backtest_cutoffs_before_the_labelled_ones_are_a_config_error():
    params = params_from_dict(small_params(evaluate={"backtest_folds": 10, "backtest_every_months": 3}))
    with pytest.raises(ConfigError, match=r"evaluate: backtest test cutoffs 2021-10-01.*lower evaluate.backtest_folds"):
        backtest_test_cutoffs(params, MONTHLY, pd.Timestamp("2024-01-01"))


def test_each_backtest_fold_trains_on_the_split_of_its_own_test_cutoff(monkeypatch):
    fitted = []

    def record_split(params, panel, split, hyperparameters):
        fitted.append(split)
        raise RuntimeError("stop after the split")

    monkeypatch.setattr(fitting, "fit_model_for", record_split)
    params = params_from_dict(small_params(split={"validation_gap_months": None}))
    for test_cutoff in (pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01")):
        with pytest.raises(RuntimeError, match="stop after the split"):
            fitted_fold_for(params, PANEL, test_cutoff, {})
    assert [split.test for split in fitted] == [pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01")]
    for split in fitted:
        assert split.validation + pd.DateOffset(months=12) <= split.test
        assert all(c + pd.DateOffset(months=12) <= split.validation for c in split.train)


def test_the_headline_holds_the_model_and_the_strongest_baselines_at_the_headline_capacity():
    def ranking(pr_auc: float) -> dict:
        return {"pr_auc": pr_auc, "pr_auc_ci_low": pr_auc - 0.25, "pr_auc_ci_high": pr_auc + 0.25, "ece": 0.01,
                "precision_at_100": pr_auc / 2, "revenue_captured_at_100": pr_auc / 4, "precision_at_50": 1.0,
                "roc_auc": 0.9}

    test = Scorecard({"model": ranking(0.5), "rfm_baseline": ranking(0.25)},
                     {"strongest_baselines": ["rfm_baseline"], "pr_auc_ratio_to_strongest_baseline": 2.0,
                      "pr_auc_ratio_to_spend_rank_baseline": 3.0})
    summary = Scorecard({"model": {"pr_auc_mean": 0.55}, "rfm_baseline": {"pr_auc_mean": 0.45}},
                        {"strongest_baselines": ["spend_rank_90d_baseline", "rfm_baseline"],
                         "pr_auc_ratio_to_strongest_baseline": 1.3, "pr_auc_ratio_to_strongest_baseline_ci_low": 1.1,
                         "pr_auc_ratio_to_strongest_baseline_ci_high": 1.5})
    metrics = BacktestMetrics(["2023-10-01", "2024-01-01"], [test.rankings] * 2, test, summary)
    assert headline(metrics, 100, "2024-01-01") == {
        "test_cutoff": "2024-01-01",
        "model": {"pr_auc": 0.5, "pr_auc_ci_low": 0.25, "pr_auc_ci_high": 0.75, "precision_at_100": 0.25,
                  "revenue_captured_at_100": 0.125, "ece": 0.01, "backtest_pr_auc_mean": 0.55},
        "strongest_baseline": {"name": "rfm_baseline", "pr_auc": 0.25, "pr_auc_ci_low": 0.0, "pr_auc_ci_high": 0.5,
                               "precision_at_100": 0.125, "revenue_captured_at_100": 0.0625},
        "pr_auc_ratio_to_strongest_baseline": 2.0,
        "backtest": {"pr_auc_ratio_to_strongest_baseline": 1.3, "pr_auc_ratio_to_strongest_baseline_ci_low": 1.1,
                     "pr_auc_ratio_to_strongest_baseline_ci_high": 1.5,
                     "strongest_baselines": "2023-10-01: spend_rank_90d_baseline; 2024-01-01: rfm_baseline"},
    }


def test_dvc_declares_each_plot_table_once_with_the_rankings_every_data_set_has_under_params_yaml():
    dvc = yaml.safe_load(DVC_YAML.read_text(encoding="utf-8"))
    [plotted] = [entry["plotted_rankings"] for entry in dvc["vars"] if "plotted_rankings" in entry]
    params = params_from_dict(small_params())
    assert plotted == [MODEL, *baseline_names(params.features.windows_days, params.labels.key_account.trailing_months)]
    paths = [path for entry in dvc["plots"] for path in entry]
    assert len(paths) == len(set(paths))
    assert {f"${{data.evaluation_dir}}/{PLOTS_DIR}/{file}" for file in PLOT_FILES.values()} <= set(paths)
    assert not any("plots" in stage for stage in dvc["stages"].values())  # declared at the top level only


def test_a_folds_logistic_regression_learns_from_every_configured_feature_not_only_the_guarded_models():
    params = params_from_dict(small_params(split={"validation_gap_months": None}))
    configured = fitting.fit_settings(params, {})
    narrowed = FeatureSpec.fit(PANEL, [], [])  # a model the noise guard left with no column at all
    trained = KeyAccountModel(booster=None, spec=narrowed, calibrator=None)
    fold = fitted_fold_for(params, PANEL.assign(**{c: "x" for c in configured.features}), pd.Timestamp("2024-01-01"),
                           {}, trained)
    assert fold.model is trained
    assert fold.candidate_features.columns == configured.features
    assert fold.candidate_features.categorical == configured.categorical
