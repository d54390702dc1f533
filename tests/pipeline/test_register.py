"""The gate on hand-built scorecards with known answers, the champion scored from the registry, the record a
refusal leaves, and one registry version per training (data and params)."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from models.backtest import MetricSettings, Scorecard, performance_metrics
from pipeline import register
from pipeline.common import tracking
from pipeline.common.adapters import population_settings
from pipeline.common.config import GateConfig, load_params, params_from_dict
from pipeline.common.errors import PipelineError
from pipeline.register import ChampionComparison, champion_comparison, gate_decision
from tests.conftest import small_params

GATE = GateConfig(min_pr_auc=0.1, min_lift_lower=1.0, champion_tolerance=0.01)
TEST_CUTOFF = "2024-01-01"


def scorecards(test_pr_auc: float = 0.5, ratio: float = 1.2, low: float = 1.05) -> tuple[Scorecard, Scorecard]:
    """The challenger's scorecards: PR-AUC on the test cutoff; over two backtest folds its ratio to each fold's
    strongest baseline with the paired interval's lower bound."""
    test = Scorecard({"model": {"pr_auc": test_pr_auc}}, {})
    backtest = Scorecard({}, {
        "pr_auc_ratio_to_strongest_baseline": ratio, "pr_auc_ratio_to_strongest_baseline_ci_low": low,
        "pr_auc_ratio_to_strongest_baseline_ci_high": ratio + 0.1, "test_cutoffs": ["2023-10-01", TEST_CUTOFF],
        "strongest_baselines": ["spend_rank_90d_baseline", "spend_rank_90d_baseline"]})
    return test, backtest


def test_a_tie_with_the_strongest_baseline_is_refused():
    decision = gate_decision(*scorecards(ratio=1.0, low=1.0), None, GATE)
    assert not decision.promote
    [failure] = decision.failures
    assert failure == (
        "over the backtest its mean PR-AUC is 1.000× that of each fold's strongest simple baseline "
        "(spend_rank_90d_baseline), the paired interval's lower bound 1.000 does not lie above gate.min_lift_lower "
        "1.0, so it is not significantly better than those baselines (a lower bound of exactly 1.0 is a tie)")


def test_a_model_ranking_as_a_baseline_does_is_refused_through_the_backtest_maths():
    rng = np.random.default_rng(5)
    folds = []
    for cutoff in ("2023-10-01", TEST_CUTOFF):
        y = rng.random(600) < 0.1
        spend = y + rng.normal(0, 1.0, 600)
        folds.append(pd.DataFrame({
            "cutoff": pd.Timestamp(cutoff), "became_key_account": y, "outcome_spend": 1.0,
            "model": 1 / (1 + np.exp(-spend)), "model_probability": 1 / (1 + np.exp(-spend)),
            "spend_rank_baseline": spend, "rfm_baseline": rng.normal(size=600)}))
    settings = MetricSettings(k=(50,), capacity_shares=(), bootstrap_resamples=200, confidence=0.95,
                              calibration_bins=10)
    metrics = performance_metrics(pd.concat(folds, ignore_index=True), "became_key_account", settings, seed=0)
    metrics.summary.comparisons["test_cutoffs"] = metrics.test_cutoffs  # as the evaluate stage writes them
    assert metrics.summary.comparisons["pr_auc_ratio_to_strongest_baseline_ci_low"] == 1.0
    assert not gate_decision(metrics.test, metrics.summary, None, GATE).promote


def test_the_first_model_becomes_champion_only_through_the_baseline_condition():
    passed = gate_decision(*scorecards(low=1.01), None, GATE)
    assert passed.promote and passed.failures == []
    assert passed.notes == ["there is no champion yet, so the baseline condition decides without a champion "
                            "comparison"]
    assert passed.explanation("1").startswith("Version 1 becomes champion: its test PR-AUC 0.500 reaches")
    refused = gate_decision(*scorecards(low=0.97), None, GATE)
    assert not refused.promote and len(refused.failures) == 1
    assert gate_decision(*scorecards(low=1.2), None, GateConfig(min_lift_lower=1.25)).promote is False


def test_a_challenger_worse_than_the_champion_by_more_than_the_tolerance_is_refused():
    decision = gate_decision(*scorecards(), ChampionComparison("3", challenger_pr_auc=0.48, champion_pr_auc=0.50),
                             GATE)
    assert not decision.promote
    assert decision.failures == [
        "on the test cutoff its PR-AUC 0.480 against champion version 3's 0.500 on the same rows is worse by 0.020, "
        "more than gate.champion_tolerance 0.01"]
    assert decision.numbers["champion"]["shortfall"] == pytest.approx(0.02)


@pytest.mark.parametrize("challenger", [0.49, 0.495, 0.50, 0.62])  # 0.49: exactly the tolerance below
def test_a_challenger_within_the_tolerance_of_the_champion_or_better_passes(challenger):
    champion = ChampionComparison("3", challenger_pr_auc=challenger, champion_pr_auc=0.50)
    assert gate_decision(*scorecards(), champion, GATE).promote


def test_beating_the_champion_does_not_excuse_a_tie_with_the_baselines_nor_a_low_pr_auc():
    champion = ChampionComparison("3", challenger_pr_auc=0.7, champion_pr_auc=0.4)
    assert not gate_decision(*scorecards(ratio=1.0, low=1.0), champion, GATE).promote
    low = gate_decision(*scorecards(test_pr_auc=0.05), champion, GATE)
    assert not low.promote and low.failures == ["its test PR-AUC 0.050 is below gate.min_pr_auc 0.1"]
    assert not gate_decision(*scorecards(test_pr_auc=float("nan")), champion, GATE).promote


def test_a_champion_that_cannot_be_compared_leaves_the_decision_to_the_baseline_condition():
    champion = ChampionComparison("3", 0.5, None, "input lacks feature column(s) ['spend_sum_90d']")
    decision = gate_decision(*scorecards(), champion, GATE)
    assert decision.promote
    assert decision.notes == ["champion version 3 cannot be compared on the test cutoff's rows (input lacks feature "
                              "column(s) ['spend_sum_90d']), so the baseline condition decides without it"]
    assert decision.numbers["champion"]["not_comparable"] == "input lacks feature column(s) ['spend_sum_90d']"
    assert not gate_decision(*scorecards(low=0.99), champion, GATE).promote


def _test_rows(frame: pd.DataFrame) -> pd.DataFrame:
    label = np.random.default_rng(1).random(len(frame)) < frame["spend"] / frame["spend"].max()
    return frame.assign(cutoff=pd.Timestamp(TEST_CUTOFF), became_key_account=label)


def _registered(model, frame: pd.DataFrame, logged_params: dict, promote: bool = True) -> str:
    """Log `model` in a run with `logged_params` and register it (champion when `promote`): its version."""
    with mlflow.start_run() as run:
        mlflow.log_params(logged_params)
        logged = tracking.log_model(model, frame.head(10))
    fingerprint = tracking.TrainingFingerprint(logged.artifact_sha256, "other data", "other params")
    return tracking.register(logged.uri, "key-account-potential", promote, run.info.run_id, fingerprint).version


def test_the_champion_is_scored_from_the_registry_on_the_same_rows(project, tiny_model):
    params = params_from_dict(small_params())
    project()
    model, frame = tiny_model
    rows = _test_rows(frame)
    challenger = -frame["spend"]  # a challenger that ranks the other way round
    tracking.configure(params.mlflow)
    assert champion_comparison(params, rows, challenger, TEST_CUTOFF) is None  # nothing registered yet

    population = population_settings(params)
    version = _registered(model, frame, population | {"split.test_cutoff": "2023-12-01"})
    compared = champion_comparison(params, rows, challenger, TEST_CUTOFF)
    expected = register._pr_auc(rows, model.raw_score(rows))
    assert compared == ChampionComparison(version, register._pr_auc(rows, challenger), expected)
    assert compared.champion_pr_auc > compared.challenger_pr_auc

    _registered(model, frame, population | {"split.test_cutoff": "2024-06-01"})
    assert champion_comparison(params, rows, challenger, TEST_CUTOFF).not_comparable == (
        "it was tested on 2024-06-01, after 2024-01-01, so these rows' outcomes may be among its training labels")
    _registered(model, frame, population | {"labels.active_months": "6"})
    assert "labels.active_months is 12 but champion version" in champion_comparison(
        params, rows, challenger, TEST_CUTOFF).not_comparable
    _registered(model, frame, population)
    unscorable = champion_comparison(params, rows.drop(columns="spend"), challenger, TEST_CUTOFF)
    assert unscorable.champion_pr_auc is None and "spend" in unscorable.not_comparable


class _Scored:
    """A trained model stand-in that scores rows by one column."""

    def __init__(self, column: str, sign: float):
        self.column, self.sign = column, sign

    def raw_score(self, rows: pd.DataFrame) -> pd.Series:
        return self.sign * rows[self.column]


def _trained(model, frame: pd.DataFrame, monkeypatch, scored: _Scored, data: str = "data",
             params: str = "params") -> dict:
    """Log `model` in a run as the train stage does, and let the stage register read it as its inputs (training
    summary with fingerprint, evaluation, test rows, local model scored as `scored`): the summary."""
    with mlflow.start_run() as run:
        logged = tracking.log_model(model, frame.head(10))
    summary = {"test_cutoff": TEST_CUTOFF, "model_uri": logged.uri, "run_id": run.info.run_id,
               **tracking.TrainingFingerprint(logged.artifact_sha256, data, params).summary()}
    monkeypatch.setattr(register, "read_json", lambda path: summary)
    monkeypatch.setattr(register, "load_evaluation", lambda params: scorecards())
    monkeypatch.setattr(register, "load_panel", lambda params: _test_rows(frame))
    monkeypatch.setattr(register, "load_trained", lambda params: (scored, {}))
    return summary


def test_a_refusal_is_recorded_with_its_numbers_and_explained(project, tiny_model, monkeypatch):
    project()
    params = load_params("params.yaml")
    model, frame = tiny_model
    tracking.configure(params.mlflow)
    champion = _registered(model, frame, {})
    _trained(model, frame, monkeypatch, _Scored("spend", -1.0))

    record = register.run(params)
    assert json.loads(params.data.registry_file.read_text(encoding="utf-8")) == record
    assert not record["promoted_to_champion"] and record["aliases"] == ["challenger"] and record["registered"]
    assert tracking.alias_version("key-account-potential", "champion") == champion
    numbers = record["gate"]["champion"]
    assert numbers["version"] == champion and numbers["champion_tolerance"] == 0.01
    assert numbers["shortfall"] == pytest.approx(numbers["champion_pr_auc"] - numbers["challenger_pr_auc"])
    assert numbers["shortfall"] > 0.01
    assert record["gate"]["backtest_pr_auc_ratio_to_strongest_baseline_ci_low"] == 1.05
    assert record["gate"]["strongest_baselines"] == {"2023-10-01": "spend_rank_90d_baseline",
                                                     TEST_CUTOFF: "spend_rank_90d_baseline"}
    [failure] = record["gate_failures"]
    assert record["decision"] == f"Version {record['version']} stays challenger: {failure}."
    assert f"against champion version {champion}'s" in failure


def _versions() -> list[str]:
    return sorted(str(v.version) for v in MlflowClient().search_model_versions("name = 'key-account-potential'"))


def test_the_same_data_and_params_register_one_version_and_a_changed_param_a_new_one(project, tiny_model,
                                                                                      monkeypatch):
    project()
    params = load_params("params.yaml")
    model, frame = tiny_model
    tracking.configure(params.mlflow)
    ranks_well = _Scored("spend", 1.0)
    summary = _trained(model, frame, monkeypatch, ranks_well)
    first = register.run(params)
    assert first["registered"] and first["promoted_to_champion"] and _versions() == ["1"]
    tags = MlflowClient().get_model_version("key-account-potential", "1").tags
    assert tags["training_data_hash"] == "data" and tags["training_params_hash"] == "params"
    assert {k: v for k, v in tags.items() if k.startswith("artifact_sha256.")} == {
        f"artifact_sha256.{part}": digest for part, digest in summary["artifact_sha256"].items()}

    _trained(model, frame, monkeypatch, ranks_well)  # trained again: same data, same params, a new run
    again = register.run(params)
    assert _versions() == ["1"] and not again["registered"] and again["version"] == "1"
    assert again["decision"].startswith("Version 1 already holds a model of the same data and params; nothing "
                                        "registered. It passes the gate and stays champion: its test PR-AUC")
    assert again["aliases"] == ["challenger", "champion"] and again["gate"]["champion"]["version"] == "1"
    assert json.loads(params.data.registry_file.read_text(encoding="utf-8")) == again

    _trained(model, frame, monkeypatch, ranks_well, params="params with another seed")
    changed = register.run(params)
    assert changed["registered"] and changed["version"] == "2" and _versions() == ["1", "2"]
    assert tracking.alias_version("key-account-potential", "champion") == "2"


def test_an_existing_version_of_the_same_training_becomes_champion_only_through_the_gate(project, tiny_model,
                                                                                         monkeypatch):
    project()
    params = load_params("params.yaml")
    model, frame = tiny_model
    tracking.configure(params.mlflow)
    champion = _registered(model, frame, {})
    _trained(model, frame, monkeypatch, _Scored("spend", -1.0))
    refused = register.run(params)  # version 2, worse than the champion on the same rows
    assert not refused["promoted_to_champion"]

    again = register.run(params)
    assert not again["registered"] and again["version"] == refused["version"]
    assert again["decision"].startswith(f"Version {refused['version']} already holds a model of the same data and "
                                        "params; nothing registered. It does not pass the gate and is not promoted: ")
    assert tracking.alias_version("key-account-potential", "champion") == champion

    lenient = params.model_copy(update={"gate": params.gate.model_copy(update={"champion_tolerance": 1.0})})
    promoted = register.run(lenient)  # only the gate changed: the version the registry holds is promoted
    assert not promoted["registered"] and promoted["promoted_to_champion"]
    assert "It passes the gate and becomes champion" in promoted["decision"]
    assert tracking.alias_version("key-account-potential", "champion") == refused["version"]
    assert _versions() == [champion, refused["version"]]


def test_a_training_summary_without_a_fingerprint_asks_to_train_again(project, monkeypatch):
    project()
    params = load_params("params.yaml")
    monkeypatch.setattr(register, "read_json", lambda path: {"test_cutoff": TEST_CUTOFF, "model_uri": "x",
                                                             "run_id": "y"})
    with pytest.raises(PipelineError, match=r"training.json records no artifact_sha256.*train again"):
        register.run(params)
