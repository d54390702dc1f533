"""Stage register: the trained model becomes a registry version (alias challenger); it also becomes the
champion only if it passes the gate declared in params."""

from __future__ import annotations

import logging

from models.backtest import Scorecard
from models.rankings import MODEL
from pipeline.common import tracking
from pipeline.common.artifacts import SUMMARY_FILE, load_evaluation
from pipeline.common.config import GateConfig, Params
from pipeline.common.io import read_json, write_json

log = logging.getLogger(__name__)


def gate_decision(test: Scorecard, gate: GateConfig) -> tuple[bool, list[str]]:
    """Whether the model may become champion by its scorecard on the test cutoff, and the reasons when it may
    not."""
    failures = []
    pr_auc = test.rankings[MODEL]["pr_auc"]
    if not pr_auc >= gate.min_pr_auc:
        failures.append(f"test PR-AUC {pr_auc:.3f} < gate.min_pr_auc {gate.min_pr_auc}")
    ratio = test.comparisons["pr_auc_ratio_to_baseline"]
    if not ratio >= gate.min_lift_over_baseline:
        failures.append(f"PR-AUC ratio to baseline {ratio:.3f} < gate.min_lift_over_baseline "
                        f"{gate.min_lift_over_baseline}")
    return not failures, failures


def run(params: Params) -> dict:
    """Stage entry: register the model as challenger, promote it to champion if it passes the gate."""
    summary = read_json(params.data.model_dir / SUMMARY_FILE)
    test, _ = load_evaluation(params)
    promote, failures = gate_decision(test, params.gate)
    tracking.configure(params.mlflow)
    registration = tracking.register(summary["model_uri"], params.mlflow.registered_model, promote, summary["run_id"])
    record = {
        "registered_model": registration.name,
        "version": registration.version,
        "aliases": list(registration.aliases),
        "run_id": summary["run_id"],
        "promoted_to_champion": promote,
        "gate_failures": failures,
    }
    if failures:
        log.warning("version %s stays challenger: %s", registration.version, "; ".join(failures))
    write_json(record, params.data.registry_file)
    return record
