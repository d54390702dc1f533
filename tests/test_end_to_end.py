"""The whole pipeline on a small demo in a temporary folder: `kap run-all`, and DVC itself."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from models.rankings import baseline_names
from pipeline.cli import app
from pipeline.common import tracking
from pipeline.common.adapters import features_for
from pipeline.common.artifacts import PLOT_FILES, load_evaluation, load_validated
from pipeline.common.charts import CHART_FILES
from pipeline.common.config import load_params
from pipeline.score import PROSPECT_COLUMNS

REPO = Path(__file__).resolve().parents[1]
# 5,000 customers give ~150 positives on the test cutoff: enough for the model-vs-baseline comparison to
# be about the model rather than noise (with 1,500 customers the test cutoff holds only ~35 positives).
# model.n_jobs 1: LightGBM's OpenMP threads spin-wait, so two pipelines with 2 threads each on the 2 cores of
# CI (one per xdist worker) run ten times slower than one
SMALL = {"demo": {"n_customers": 5000}, "evaluate": {"shap_sample": 500, "bootstrap_resamples": 200},
         "model": {"n_jobs": 1}}
runner = CliRunner()
LATEST = Path("data/scores/runs/latest")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="end_to_end")]  # one worker, one demo run


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    """One small demo run shared by the tests of this module."""
    folder = tmp_path_factory.mktemp("demo")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for group, values in SMALL.items():
        params[group] |= values
    (folder / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # in a child process, as cron would run it (in-process runs were ten times slower under pytest-xdist)
    completed = subprocess.run([sys.executable, "-m", "pipeline", "run-all"], cwd=folder, env=env,
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return folder


def test_ranked_list_has_required_columns_and_order(demo_project):
    prospects = pd.read_csv(demo_project / LATEST / "prospects.csv", encoding="utf-8-sig")
    issued_columns = [column for column in PROSPECT_COLUMNS if column != "holdout"]
    assert list(prospects.columns) == [*issued_columns, "reason_1", "reason_2", "reason_3",
                                       "effect_1", "effect_2", "effect_3"]
    assert len(prospects) > 100
    assert prospects["rank"].tolist() == list(range(1, len(prospects) + 1))
    assert prospects["probability"].is_monotonic_decreasing
    assert prospects["probability"].between(0, 1).all()
    assert prospects["reason_1"].str.contains(r" — (?:raises|lowers)$").all()
    parquet = pd.read_parquet(demo_project / LATEST / "prospects.parquet")
    assert parquet["customer_id"].tolist() == prospects["customer_id"].astype(str).tolist()


def test_untrusted_names_are_neutralised_in_exports(demo_project):
    prospects = pd.read_csv(demo_project / LATEST / "prospects.csv", encoding="utf-8-sig")
    names = prospects["company_name"].dropna()
    assert not names.str.match(r"^[=+\-@]").any()
    assert names.str.match(r"^'[=+\-@]").any()  # the demo has such names; they are quoted
    html = (demo_project / LATEST / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "How far to trust this list" in html and "On the test cutoff 2024-01-01" in html  # evaluate's tag
    spoofed = pd.read_parquet(demo_project / LATEST / "prospects.parquet")["company_name"].str.contains("\u202e")
    for shown in (names, pd.Series([html])):  # a right-to-left override is shown as its code point, or absent
        assert not shown.str.contains("\u202e").any()
        assert shown.str.contains("Acme Trading [U+202E]gnp.exe", regex=False).any() == spoofed.any()


def _scorecards(project: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        return load_evaluation(load_params("params.yaml"))


def test_metrics_in_range_and_model_beats_spend_rank_baseline(demo_project):
    metrics = _scorecards(demo_project)[0].rankings
    model, baseline = metrics["model"], metrics["spend_rank_baseline"]
    for ranking in (model, baseline):
        assert 0 <= ranking["pr_auc"] <= 1 and 0 <= ranking["roc_auc"] <= 1
        assert 0 < ranking["positive_rate"] < 0.5
        assert ranking["n_positive"] >= 10
    assert model["roc_auc"] > 0.75
    assert model["pr_auc"] > baseline["pr_auc"]
    for name in ("growth_rank_baseline", "rfm_baseline", "logistic_regression_baseline", "oracle"):
        assert 0 <= metrics[name]["pr_auc"] <= 1 and metrics[name]["n_rows"] == model["n_rows"]
    assert metrics["oracle"]["pr_auc"] > model["pr_auc"]  # the generator's truth bounds what can be learnt
    assert "bgnbd_gamma_gamma_baseline" in metrics and 0 <= model["ece"] <= 1 and 0 < model["brier"] < 1


def test_headline_metrics_name_the_strongest_baseline_and_the_test_cutoff(demo_project):
    headline = json.loads((demo_project / "reports/metrics.json").read_text())
    test, backtest = _scorecards(demo_project)
    [strongest] = test.comparisons["strongest_baselines"]
    assert headline["test_cutoff"] == "2024-01-01" and headline["strongest_baseline"]["name"] == strongest
    assert headline["model"]["pr_auc"] == test.rankings["model"]["pr_auc"]
    assert headline["strongest_baseline"]["precision_at_100"] == test.rankings[strongest]["precision_at_100"]
    assert headline["model"]["backtest_pr_auc_mean"] == backtest.rankings["model"]["pr_auc_mean"]
    assert len(pd.json_normalize(headline).columns) < 20  # a glance, not every ranking's every metric


def test_backtest_has_every_fold_with_intervals_and_all_plots(demo_project):
    _, backtest = _scorecards(demo_project)
    assert backtest.comparisons["test_cutoffs"] == ["2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01"]
    model = backtest.rankings["model"]
    assert model["pr_auc_mean_ci_low"] <= model["pr_auc_mean"] <= model["pr_auc_mean_ci_high"]
    assert model["pr_auc_min"] <= model["pr_auc_mean"] <= model["pr_auc_max"]
    per_fold = pd.read_csv(demo_project / "reports/evaluation/backtest_metrics.csv")
    assert set(per_fold["test_cutoff"]) == set(backtest.comparisons["test_cutoffs"])
    every_ranking = {"model", *baseline_names((30, 90, 180, 365), 12), "oracle"}
    assert per_fold.groupby("test_cutoff")["ranking"].agg(set).eq(every_ranking).all()
    for file in PLOT_FILES.values():
        assert len(pd.read_csv(demo_project / "reports/evaluation/plots" / file)) > 1
        assert (demo_project / "reports/evaluation" / file).with_suffix(".png").stat().st_size > 1000
    segments = pd.read_csv(demo_project / "reports/evaluation/segment_metrics.csv")
    assert {"industry", "region", "country", "size_band", "tenure_band"} <= set(segments["segment"])


def test_model_card_states_data_label_metrics_features_and_limits(demo_project):
    card = (demo_project / "reports/model_card.md").read_text(encoding="utf-8")
    for section in ("## Data and period", "## Label", "## Eligible population", "## In plain words",
                    "## Metrics against baselines", "## Top features", "## Known limits"):
        assert section in card
    assert "bgnbd_gamma_gamma_baseline" in card and "2024-01-01" in card
    test, summary = _scorecards(demo_project)
    model, backtest = test.rankings["model"], summary.rankings["model"]
    assert f"{model['n_rows']:,} eligible customers, {model['n_positive']:,} became key accounts" in card
    assert (f"| model | {model['pr_auc']:.3f} [{model['pr_auc_ci_low']:.3f}, {model['pr_auc_ci_high']:.3f}] "
            f"| {backtest['pr_auc_mean']:.3f} ± {backtest['pr_auc_std']:.3f} "
            f"[{backtest['pr_auc_mean_ci_low']:.3f}, {backtest['pr_auc_mean_ci_high']:.3f}] |") in card
    top_features = card.split("## Top features")[1].split("##")[0]
    assert top_features.count("\n| `") == 10  # ten features, each with its definition
    assert "| industry | Manufacturing |" in card and "| tenure_band |" in card
    prospects = pd.read_parquet(demo_project / LATEST / "prospects.parquet")
    assert prospects["probability"].between(0, 1).all()  # calibrated probabilities in the ranked list


def test_mlflow_run_and_registered_champion(demo_project):
    client = MlflowClient(tracking_uri=f"sqlite:///{demo_project / 'mlflow.db'}")
    registry = json.loads((demo_project / "reports/registry.json").read_text())
    run = client.get_run(registry["run_id"])
    assert "test_model_pr_auc" in run.data.metrics and "model.learning_rate" in run.data.params
    assert "backtest_model_pr_auc_std" in run.data.metrics and tracking.TRACK_RECORD_TAG in run.data.tags

    def artifacts(folder: str | None = None) -> set[str]:
        return {a.path for a in client.list_artifacts(run.info.run_id, folder)}

    assert "model_card.md" in artifacts()
    assert {f"evaluation/{chart}" for chart in CHART_FILES} <= artifacts("evaluation")
    assert {"evaluation/plots/pr_curve.csv", "evaluation/plots/gains.csv", "evaluation/plots/precision_at_k.csv",
            "evaluation/plots/calibration.csv", "evaluation/plots/backtest.csv"} <= artifacts("evaluation/plots")
    assert "explain/shap_summary.png" in artifacts("explain")
    champion = client.get_model_version_by_alias(registry["registered_model"], "champion")
    assert str(champion.version) == registry["version"]


def test_the_list_shows_the_champions_calibrated_probabilities(demo_project, monkeypatch):
    monkeypatch.chdir(demo_project)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = load_params("params.yaml")
    scoring_run = json.loads((demo_project / LATEST / "run.json").read_text())
    tracking.configure(params.mlflow)
    model = tracking.load_model(tracking.version_uri(scoring_run["model_name"], scoring_run["model_version"]))
    prospects = pd.read_parquet(demo_project / LATEST / "prospects.parquet")
    spine = prospects[["customer_id"]].assign(cutoff=pd.Timestamp(scoring_run["as_of"]))
    raw = model.raw_score(features_for(params, load_validated(params), spine)).to_numpy()
    np.testing.assert_allclose(prospects["probability"], np.round(model.calibrator.transform(raw), 4))
    assert np.abs(prospects["probability"] - raw).max() > 0.01  # calibrated, not the raw scores


def test_scoring_is_idempotent_and_a_failed_run_keeps_the_last_good_output(demo_project, monkeypatch):
    monkeypatch.chdir(demo_project)
    scores = demo_project / LATEST / "prospects.parquet"
    before = pd.read_parquet(scores)
    result = runner.invoke(app, ["score"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(before, pd.read_parquet(scores))

    params = yaml.safe_load((demo_project / "params.yaml").read_text())
    params["score"]["model_alias"] = "no-such-alias"
    (demo_project / "bad.yaml").write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["score", "--params", "bad.yaml"])
    assert result.exit_code == 1
    assert "no-such-alias" in result.stderr
    pd.testing.assert_frame_equal(before, pd.read_parquet(scores))

    params["score"] |= {"model_alias": "champion", "max_data_age_days": 0}  # the demo's history ended before today
    (demo_project / "stale.yaml").write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["score", "--params", "stale.yaml"])
    assert result.exit_code == 2
    assert "score.max_data_age_days (0)" in result.stderr and "column 'timestamp'" in result.stderr
    pd.testing.assert_frame_equal(before, pd.read_parquet(scores))

    for as_of, message in (("2019-06-01", "score.as_of 2019-06-01 is not after the data"),
                           ("2030-01-01", "no customer is eligible on 2030-01-01")):
        params["score"] |= {"max_data_age_days": None, "as_of": as_of}
        (demo_project / "outside.yaml").write_text(yaml.safe_dump(params))
        result = runner.invoke(app, ["score", "--params", "outside.yaml"])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
        pd.testing.assert_frame_equal(before, pd.read_parquet(scores))

    params["score"]["as_of"] = None
    params["labels"]["active_months"] = 6  # a different population from the one the champion learned
    (demo_project / "other_population.yaml").write_text(yaml.safe_dump(params))
    result = runner.invoke(app, ["score", "--params", "other_population.yaml"])
    assert result.exit_code == 2
    assert "labels.active_months is 6 but model version" in result.stderr and "trained with 12" in result.stderr


def test_runs_keep_a_history_with_movement_tiers_and_a_ledger_entry_per_list(demo_project, monkeypatch):
    """Monthly runs into their own scores_dir: each a folder, `latest` on the newest, the oldest pruned past
    score.keep_runs while the ledger keeps every list; rank movement against the run before."""
    monkeypatch.chdir(demo_project)
    params = yaml.safe_load((demo_project / "params.yaml").read_text())
    newest = json.loads((demo_project / LATEST / "run.json").read_text())["as_of"]
    months = [str((pd.Timestamp(newest) - pd.DateOffset(months=m)).date()) for m in (2, 1)]
    params["data"]["scores_dir"] = "data/history"
    params["score"] |= {"keep_runs": 2, "capacity": 40, "holdout_share": 0.25}
    lines = []
    for as_of in [*months, None]:
        params["score"]["as_of"] = as_of
        (demo_project / "history.yaml").write_text(yaml.safe_dump(params))
        result = runner.invoke(app, ["score", "--params", "history.yaml"])
        assert result.exit_code == 0, result.output
        lines.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert [line["as_of"] for line in lines] == [*months, newest] and lines[-1]["tiers"]["A"] == 40
    runs = demo_project / "data/history/runs"
    assert sorted(p.name for p in runs.iterdir()) == [months[1], newest, "latest"]  # the oldest pruned
    assert (runs / "latest").resolve().name == newest
    assert sorted(p.stem for p in (demo_project / "data/history/ledger").iterdir()) == [*months, newest]

    assert json.loads((runs / months[1] / "run.json").read_text())["data_through"] < months[1]  # a backfill
    manifest = json.loads((runs / "latest/run.json").read_text())
    assert manifest["previous_as_of"] == months[1] and manifest["holdout"] == 10
    assert manifest["gains"] and manifest["drivers"] and manifest["trust"]
    full = pd.read_parquet(runs / "latest/prospects.parquet")
    assert full["score"].between(1, 99).all() and full["score"].is_monotonic_decreasing
    assert full["tier"].tolist() == sorted(full["tier"])  # A, then B, C and D down the ranks
    assert full["previous_rank"].notna().mean() > 0.8 and (full["previous_rank"] != full["rank"]).any()
    assert full.loc[full["holdout"], "tier"].eq("A").all()
    issued = pd.read_csv(runs / "latest/prospects.csv", encoding="utf-8-sig")
    assert len(issued) == len(full) - 10 and "holdout" not in issued.columns  # the control group is not issued
    assert set(issued["customer_id"].astype(str)).isdisjoint(full.loc[full["holdout"], "customer_id"])
    spend = pd.read_parquet(runs / "latest/spend_by_month.parquet")
    assert spend.shape == (len(full), 24)
    assert spend.columns[-1] == str((pd.Timestamp(newest) - pd.Timedelta(days=1)).to_period("M"))
    assert (runs / "latest/prospects.xlsx").stat().st_size > 10_000 and (runs / "latest/report.html").is_file()
    first_list = json.loads((demo_project / f"data/history/ledger/{months[0]}.json").read_text())
    assert first_list["tier_counts"]["A"] == 40 and first_list["holdout_share"] == 0.25


def test_dvc_repro_reruns_only_what_a_param_change_touches(tmp_path):
    """dvc.yaml runs end to end; a scoring param or pipeline/score.py dirties only the score stage, a feature
    family's module the features stage and what follows; `dvc exp run -S` works."""
    for item in ("dvc.yaml", ".dvcignore", ".dvc/config", "demo", "features", "models", "pipeline"):
        source = REPO / item
        if source.is_dir():
            shutil.copytree(source, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp_path / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, tmp_path / item)
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["demo"]["n_customers"] = 800
    params["evaluate"] |= {"shap_sample": 300, "backtest_folds": 2, "bootstrap_resamples": 100}
    params["model"]["n_jobs"] = 1  # see SMALL
    params["gate"]["min_lift_lower"] = 0.0  # this test is about DVC, not model quality
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}
    env.pop("MLFLOW_TRACKING_URI", None)
    dvc = [str(Path(sys.executable).parent / "dvc")]

    def sh(*args):
        completed = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout

    sh("git", "init", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "init")
    sh(*dvc, "repro", "--quiet")
    assert (tmp_path / "data/scores/runs/latest/prospects.csv").is_file()
    assert json.loads(sh(*dvc, "status", "--json")) == {}
    assert "model.pr_auc" in sh(*dvc, "metrics", "show")

    def dirtied_by(path: str) -> set[str]:
        """The stages `dvc status` names after a comment is appended to `path` (then put back)."""
        original = (tmp_path / path).read_text(encoding="utf-8")
        (tmp_path / path).write_text(original + "# touched\n", encoding="utf-8")
        try:
            return set(json.loads(sh(*dvc, "status", "--json")))
        finally:
            (tmp_path / path).write_text(original, encoding="utf-8")

    assert dirtied_by("pipeline/score.py") == {"score"}
    assert dirtied_by("features/families/spend.py") == {"features", "train", "evaluate", "model-card", "score"}
    assert json.loads(sh(*dvc, "status", "--json")) == {}

    params["score"]["top_reasons"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    assert set(json.loads(sh(*dvc, "status", "--json"))) == {"score"}

    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "baseline run")
    sh(*dvc, "exp", "run", "-S", "model.learning_rate=0.06", "--quiet")
    assert "model.pr_auc" in sh(*dvc, "metrics", "diff")
