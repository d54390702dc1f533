"""Stage register: the trained model becomes a registry version (alias challenger); it also becomes the
champion only if it passes the gate declared in params (`gate_decision`):

- its PR-AUC on the test cutoff is at least gate.min_pr_auc;
- (a) over the backtest it is significantly better than the strongest simple baseline of each fold: the lower
  bound of the paired bootstrap interval of its mean PR-AUC ratio lies strictly above gate.min_lift_lower (with
  1.0, a model that ties a baseline, whose replicates are all exactly 1.0, is refused);
- (b) on the test cutoff, the newest with known outcomes, its PR-AUC is not below the current champion's, scored
  on the same rows, by more than gate.champion_tolerance. The first model (no champion yet) passes through (a)
  alone, and so does a challenger whose champion cannot be compared on these rows (another population, features
  it no longer gets, or trained on outcomes after this test cutoff): the record says so.

The decision, its numbers and plain words go to data.registry_file and the log.

A version trained on the same data with the same params (and code) as the model (equal training_data_hash and
training_params_hash) is not registered again: the record says which version holds it. The gate is still
decided and recorded; when it passes and that version is not champion, it becomes champion (so a change of the
gate's params alone acts on the version the registry holds); otherwise the aliases stay as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from features.labels import TARGET
from models.backtest import Scorecard
from models.metrics import ranking_metrics
from models.rankings import MODEL
from models.spec import SpecMismatchError
from pipeline.common import tracking
from pipeline.common.adapters import refuse_other_population
from pipeline.common.artifacts import SUMMARY_FILE, load_evaluation, load_panel, load_trained
from pipeline.common.config import GateConfig, Params
from pipeline.common.errors import PipelineError, UserInputError
from pipeline.common.io import read_json, write_json

log = logging.getLogger(__name__)

RATIO = "pr_auc_ratio_to_strongest_baseline"


@dataclass(frozen=True)
class ChampionComparison:
    """The current champion against the challenger on the test cutoff's rows: both PR-AUCs, or why the champion
    could not be scored on them (`champion_pr_auc` None)."""

    version: str
    challenger_pr_auc: float
    champion_pr_auc: float | None
    not_comparable: str | None = None


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger becomes champion: in plain words the conditions it failed and the ones it met, and
    what shaped the decision besides (no champion yet, a champion that cannot be compared); the numbers."""

    promote: bool
    failures: list[str]
    reasons: list[str]
    notes: list[str]
    numbers: dict

    def explanation(self, version: str) -> str:
        """The decision in plain words for registry version `version`."""
        if self.promote:
            return f"Version {version} becomes champion: " + "; ".join(self.reasons + self.notes) + "."
        return f"Version {version} stays challenger: " + "; ".join(self.failures + self.notes) + "."


def gate_decision(test: Scorecard, backtest: Scorecard, champion: ChampionComparison | None,
                  gate: GateConfig) -> GateDecision:
    """The gate on the challenger's scorecards (on the test cutoff; over the backtest, with the comparisons with
    each fold's strongest baseline) and its comparison with the current champion (None: there is none)."""
    failures, reasons, notes = [], [], []
    pr_auc = test.rankings[MODEL]["pr_auc"]
    if pr_auc >= gate.min_pr_auc:
        reasons.append(f"its test PR-AUC {pr_auc:.3f} reaches gate.min_pr_auc {gate.min_pr_auc}")
    else:
        failures.append(f"its test PR-AUC {pr_auc:.3f} is below gate.min_pr_auc {gate.min_pr_auc}")

    compared = backtest.comparisons
    ratio, low = compared[RATIO], compared[f"{RATIO}_ci_low"]
    strongest = ", ".join(dict.fromkeys(compared["strongest_baselines"]))
    lift = (f"over the backtest its mean PR-AUC is {ratio:.3f}× that of each fold's strongest simple baseline "
            f"({strongest}), the paired interval's lower bound {low:.3f}")
    if low > gate.min_lift_lower:
        reasons.append(f"{lift} lies above gate.min_lift_lower {gate.min_lift_lower}")
    else:
        failures.append(f"{lift} does not lie above gate.min_lift_lower {gate.min_lift_lower}, so it is not "
                        "significantly better than those baselines (a lower bound of exactly 1.0 is a tie)")

    numbers = {
        "test_pr_auc": pr_auc, "min_pr_auc": gate.min_pr_auc,
        f"backtest_{RATIO}": ratio, f"backtest_{RATIO}_ci_low": low, f"backtest_{RATIO}_ci_high":
            compared[f"{RATIO}_ci_high"], "min_lift_lower": gate.min_lift_lower,
        "strongest_baselines": dict(zip(compared["test_cutoffs"], compared["strongest_baselines"], strict=True)),
        "champion": None if champion is None else _champion_numbers(champion, gate.champion_tolerance),
    }
    if champion is None:
        notes.append("there is no champion yet, so the baseline condition decides without a champion comparison")
    elif champion.champion_pr_auc is None:
        notes.append(f"champion version {champion.version} cannot be compared on the test cutoff's rows "
                     f"({champion.not_comparable}), so the baseline condition decides without it")
    else:
        versus = (f"on the test cutoff its PR-AUC {champion.challenger_pr_auc:.3f} against champion version "
                  f"{champion.version}'s {champion.champion_pr_auc:.3f} on the same rows")
        if champion.challenger_pr_auc >= champion.champion_pr_auc - gate.champion_tolerance:
            reasons.append(f"{versus} is not worse by more than gate.champion_tolerance {gate.champion_tolerance}")
        else:
            failures.append(f"{versus} is worse by {champion.champion_pr_auc - champion.challenger_pr_auc:.3f}, more "
                            f"than gate.champion_tolerance {gate.champion_tolerance}")
    return GateDecision(not failures, failures, reasons, notes, numbers)


def _champion_numbers(champion: ChampionComparison, tolerance: float) -> dict:
    numbers = {"version": champion.version, "challenger_pr_auc": champion.challenger_pr_auc,
               "champion_pr_auc": champion.champion_pr_auc, "champion_tolerance": tolerance}
    if champion.champion_pr_auc is None:
        return numbers | {"not_comparable": champion.not_comparable}
    return numbers | {"shortfall": champion.champion_pr_auc - champion.challenger_pr_auc}


def champion_comparison(params: Params, rows: pd.DataFrame, challenger_score: pd.Series, test_cutoff: str
                        ) -> ChampionComparison | None:
    """The registry's current champion scored on `rows` (the test cutoff's eligible rows) next to the challenger's
    scores of them; None without a champion. A champion of another population (labels, feature windows or
    families), one that cannot score these rows, or one trained on outcomes after `test_cutoff` (its own test
    cutoff is later: these rows' outcomes may be among its training labels) is not comparable, and says why."""
    name = params.mlflow.registered_model
    version = tracking.find_alias_version(name, tracking.CHAMPION)
    if version is None:
        return None
    challenger = _pr_auc(rows, challenger_score)
    logged = tracking.version_run_params(name, version)
    tested_on = logged.get("split.test_cutoff")
    if tested_on is not None and tested_on > test_cutoff:  # ISO dates
        return ChampionComparison(version, challenger, None, f"it was tested on {tested_on}, after {test_cutoff}, so "
                                  "these rows' outcomes may be among its training labels")
    try:
        refuse_other_population(params, logged, f"champion version {version}")
        score = tracking.load_version_model(name, version).raw_score(rows)
    except (UserInputError, PipelineError, SpecMismatchError) as exc:
        return ChampionComparison(version, challenger, None, str(exc))
    return ChampionComparison(version, challenger, _pr_auc(rows, score))


def _pr_auc(rows: pd.DataFrame, score: pd.Series) -> float:
    return ranking_metrics(rows[TARGET].to_numpy(), score.to_numpy(), ks=())["pr_auc"]


def kept_version_explanation(version: str, champion: str | None, decision: GateDecision) -> str:
    """In plain words: registry version `version` already holds a model of the same data and params, so nothing
    was registered; what the gate decided and what became of the aliases (`champion`: the version that was
    champion before)."""
    head = f"Version {version} already holds a model of the same data and params; nothing registered."
    if decision.promote:
        becomes = "stays champion" if champion == version else "becomes champion"
        return f"{head} It passes the gate and {becomes}: " + "; ".join(decision.reasons + decision.notes) + "."
    stays = "stays champion (a refusal moves no alias)" if champion == version else "is not promoted"
    return f"{head} It does not pass the gate and {stays}: " + "; ".join(decision.failures + decision.notes) + "."


def run(params: Params) -> dict:
    """Stage entry: register the model as challenger, promote it to champion if it passes the gate; a model of
    the same data and params as an existing version is not registered again."""
    summary_file = params.data.model_dir / SUMMARY_FILE
    summary = read_json(summary_file)
    fingerprint = tracking.TrainingFingerprint.from_summary(summary, str(summary_file))
    test, backtest = load_evaluation(params)
    panel = load_panel(params)
    rows = panel[panel["cutoff"] == pd.Timestamp(summary["test_cutoff"])].reset_index(drop=True)
    challenger, _ = load_trained(params)
    tracking.configure(params.mlflow)
    name = params.mlflow.registered_model
    champion = champion_comparison(params, rows, challenger.raw_score(rows), summary["test_cutoff"])
    decision = gate_decision(test, backtest, champion, params.gate)
    existing = tracking.same_training_version(name, fingerprint)
    if existing is None:
        registration = tracking.register(summary["model_uri"], name, decision.promote, summary["run_id"],
                                         fingerprint)
        explanation = decision.explanation(registration.version)
    else:
        champion_before = tracking.find_alias_version(name, tracking.CHAMPION)
        registration = tracking.keep_version(name, existing, decision.promote)
        explanation = kept_version_explanation(existing, champion_before, decision)
    record = {
        "registered_model": registration.name,
        "version": registration.version,
        "registered": registration.registered,
        "aliases": list(registration.aliases),
        "run_id": summary["run_id"],
        "promoted_to_champion": decision.promote,
        "decision": explanation,
        "gate_failures": decision.failures,
        "gate": decision.numbers,
        "training_data_hash": fingerprint.data_hash,
        "training_params_hash": fingerprint.params_hash,
    }
    (log.info if decision.promote else log.warning)("%s", explanation)
    write_json(record, params.data.registry_file)
    return record
