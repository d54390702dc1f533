"""`kap check`: the plan of a run that can work is printed; one that cannot stops with exit 2 and a change of
the knobs that is itself feasible; unwritable outputs and too few key accounts are refused before any work."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from pipeline.check import feasible_change, time_plan, unwritable_outputs
from pipeline.cli import app
from pipeline.common.config import load_params

runner = CliRunner()


def test_the_demo_plan_is_printed(project):
    result = runner.invoke(app, ["check", "--params", str(project())])
    assert result.exit_code == 0, result.output
    assert "cutoffs: 2021-01-01 .. 2024-01-01 (37)" in result.stdout
    assert "validation: 2023-01-01; test: 2024-01-01" in result.stdout
    assert "backtest folds' test cutoffs: 2023-04-01, 2023-07-01, 2023-10-01, 2024-01-01" in result.stdout


def test_a_history_too_short_is_refused_with_a_change_that_works(project):
    result = runner.invoke(app, ["check", "--params", str(project(demo={"years": 3}))])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "no training cutoff" in result.stderr
    assert "a plan that works: set labels.horizon_months: 6" in result.stderr
    fixed = project(demo={"years": 3}, labels={"horizon_months": 6, "active_months": 6,
                                               "key_account": {"rule": "revenue_share", "revenue_share": 0.8,
                                                               "top_share": 0.2, "absolute_amount": 100000,
                                                               "trailing_months": 6}})
    assert runner.invoke(app, ["check", "--params", str(fixed)]).exit_code == 0


def test_too_many_backtest_folds_suggest_fewer(project):
    params = load_params(project(evaluate={"backtest_folds": 30}))
    first, last = pd.Timestamp("2020-01-01"), pd.Timestamp("2024-12-31")
    change = feasible_change(params, first, last)
    # five folds 3 months apart reach back to 2023-01: its validation cutoff 2022-01, its training cutoff 2021-01,
    # the first one with a year of history; a sixth fold would have no training cutoff
    assert change == {"evaluate.backtest_folds": 5}
    result = runner.invoke(app, ["check", "--params", str(project(evaluate={"backtest_folds": 30}))])
    assert result.exit_code == 2 and "set evaluate.backtest_folds: 5" in result.stderr


def test_an_output_under_a_file_is_refused(project, tmp_path):
    (tmp_path / "blocker").write_text("not a folder", encoding="utf-8")
    params = project(data={"scores_dir": str(tmp_path / "blocker" / "scores")})
    result = runner.invoke(app, ["check", "--params", str(params)])
    assert result.exit_code == 2
    assert "data.scores_dir" in result.stderr and "is not a folder" in result.stderr


def test_a_file_where_an_output_folder_belongs_and_a_folder_nothing_can_be_written_in_are_refused(project,
                                                                                                   tmp_path):
    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    params = project(data={"scores_dir": str(tmp_path / "afile")})
    assert unwritable_outputs(load_params(params)) == [f"data.scores_dir: {tmp_path / 'afile'} (a file, where a "
                                                       "folder belongs)"]
    params = project(data={"quality_dir": "/proc/kap-quality"})  # refuses new files even to root
    assert unwritable_outputs(load_params(params)) == ["data.quality_dir: /proc/kap-quality (/proc is not writable)"]


def test_too_few_future_key_accounts_are_refused(project, tmp_path):
    rng = np.random.default_rng(3)
    days = pd.date_range("2020-01-01", "2024-12-31", freq="7D")
    rows = [(f"I{c}-{i}", f"C{c}", day.strftime("%Y-%m-%d"), f"{rng.uniform(90, 110):.2f}")
            for c in range(3) for i, day in enumerate(days)]
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame(rows, columns=["invoice_id", "customer_id", "timestamp", "amount"]).to_csv(raw / "tx.csv",
                                                                                          index=False)
    params = project(data={"source": "files", "raw_dir": str(raw), "files": {"transactions": [{"path": "tx.csv"}]}},
                     features={"families": ["spend", "orders", "order", "recency", "tenure"]})
    result = runner.invoke(app, ["check", "--params", str(params)])
    assert result.exit_code == 2, result.output
    assert "became key accounts at the test cutoff" in result.stderr


def test_run_all_stops_at_check_before_writing_anything(project, tmp_path):
    result = runner.invoke(app, ["run-all", "--params", str(project(demo={"years": 3}))])
    assert result.exit_code == 2
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()


def test_the_plan_uses_the_backtest_and_split_of_the_pipeline(project):
    plan = time_plan(load_params(project()), pd.Timestamp("2020-01-01"), pd.Timestamp("2024-12-31"))
    assert plan.train[0] == pd.Timestamp("2021-01-01") and plan.train[-1] == pd.Timestamp("2022-01-01")
    assert plan.backtest[-1] == plan.test
