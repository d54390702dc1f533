"""The real-data path on Online Retail II (../shared/data): the profile runs end to end and the
data-quality report counts the quirks the data set's README lists."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.common.artifacts import load_evaluation
from pipeline.common.config import load_params

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "online_retail_ii"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason="Online Retail II is not in ../shared/data"),
]


@pytest.fixture(scope="module")
def online_retail_run(tmp_path_factory):
    """The shipped profile run from a temporary folder through a profile that extends it: outputs and the
    MLflow store in that folder (relative to the folder, as the profile's own are to configs/)."""
    folder = tmp_path_factory.mktemp("online_retail_ii")
    shipped = load_params(REPO / "configs" / "online_retail_ii.yaml")
    outputs = {name: os.path.relpath(value, REPO) for name, value in shipped.data
               if isinstance(value, Path) and name != "raw_dir"}
    profile = {
        "extends": str(REPO / "configs" / "online_retail_ii.yaml"),
        "data": {"raw_dir": str(DATA), **outputs},
        "demo": {"output_dir": os.path.relpath(shipped.demo.output_dir, REPO)},
        "evaluate": {"shap_sample": 500, "bootstrap_resamples": 200},
        "model": {"n_jobs": 1},  # one core per xdist worker: LightGBM's OpenMP threads spin-wait otherwise
        "mlflow": {"tracking_uri": "sqlite:///mlflow.db"},
    }
    (folder / "params.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    params = load_params(folder / "params.yaml")
    assert params.data.validated_dir.is_relative_to(folder) and params.demo.output_dir.is_relative_to(folder)
    before = {p.name: p.stat().st_mtime_ns for p in DATA.iterdir()}
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    completed = subprocess.run([sys.executable, "-m", "pipeline", "run-all"], cwd=folder, env=env,
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert {p.name: p.stat().st_mtime_ns for p in DATA.iterdir()} == before  # raw data untouched
    return params


def test_quality_report_counts_the_documented_quirks(online_retail_run):
    params = online_retail_run
    report = json.loads((params.data.quality_dir / "quality.json").read_text())
    assert report["rows_read"]["transactions"] == 525_461 + 541_909
    dropped = report["transaction_lines_dropped"]
    assert dropped["overlap"] == 22_523  # 2010-12-01 .. 09 appears in both exports
    assert dropped["no_customer_id"] == 235_287  # guest orders
    assert dropped["adjustment_lines"] > 1_000  # postage, manual, bank charges ...
    assert report["repairs"]["cancellation_lines_netted"] > 10_000  # "C" invoices
    assert 5_800 < report["customers"]["with_transactions"] <= 5_942
    assert report["currency"] == "GBP"


def test_validated_tables_are_netted_and_typed(online_retail_run):
    params = online_retail_run
    tx = pd.read_parquet(params.data.validated_dir / "transactions.parquet")
    assert (tx.loc[tx["invoice_id"].str.startswith("C"), "amount"] <= 0).all()
    assert not tx["product_id"].isin(list(params.data.files.exclude_products)).any()
    assert tx["customer_id"].str.fullmatch(r"\d+").all()  # 12345.0 and 12345 are one customer "12345"
    customers = pd.read_parquet(params.data.validated_dir / "customers.parquet")
    assert customers["country"].notna().mean() > 0.99


def test_profile_produces_metrics_and_a_ranked_list(online_retail_run):
    params = online_retail_run
    assert json.loads(params.data.metrics_file.read_text())["test_cutoff"] == "2011-06-01"
    test, backtest = load_evaluation(params)
    for ranking in ("model", "spend_rank_baseline"):
        assert 0.2 < test.rankings[ranking]["pr_auc"] < 0.8
        assert test.rankings[ranking]["n_positive"] > 100
    assert backtest.comparisons["test_cutoffs"] == ["2011-03-01", "2011-04-01", "2011-05-01", "2011-06-01"]
    assert backtest.rankings["model"]["pr_auc_mean_ci_low"] < backtest.rankings["model"]["pr_auc_mean"]
    card = params.data.model_card_file.read_text(encoding="utf-8")
    assert "## Known limits" in card
    assert "The trees start from a logistic prior" in card and "spend_sum_365d (+" in card  # the profile's prior
    prospects = pd.read_csv(params.data.scores_dir / "runs/latest/prospects.csv", encoding="utf-8-sig")
    assert len(prospects) > 1_000 and prospects["probability"].is_monotonic_decreasing
    reasons = prospects.filter(like="reason_").stack()
    assert not reasons.str.contains("categor").any()  # the data has none: no reason may speak of them
