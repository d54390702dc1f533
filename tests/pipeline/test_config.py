import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import find_project_root, load_params, params_from_dict
from pipeline.errors import ConfigError
from tests.conftest import small_params

REPO = Path(__file__).resolve().parents[2]


def test_project_root_is_the_nearest_folder_with_params(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: 1\n", encoding="utf-8")
    notebooks = tmp_path / "notebooks" / "drafts"
    notebooks.mkdir(parents=True)
    assert find_project_root(notebooks) == tmp_path
    assert find_project_root(tmp_path) == tmp_path


def test_no_params_anywhere_up_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no params\.yaml"):
        find_project_root(tmp_path / "nowhere")


def test_negative_isotonic_pseudo_rows_is_a_config_error():
    with pytest.raises(ConfigError, match=r"calibration.isotonic_pseudo_rows must be >= 0, got -1"):
        params_from_dict(small_params(calibration={"isotonic_pseudo_rows": -1}))


@pytest.mark.parametrize("overrides, message", [
    ({"score": {"as_of": "2025-13-01"}}, "score.as_of must be a date such as 2024-01-31, got '2025-13-01'"),
    ({"score": {"as_of": "2025-01-31 12:00"}}, "score.as_of must be a date"),
    ({"features": {"first_cutoff": "soon"}}, "features.first_cutoff must be a date"),
    ({"split": {"test_cutoff": "2024-02-30"}}, "split.test_cutoff must be a date"),
    ({"data": {"files": {"valid_until": "tomorrow"}}}, "data.files.valid_until must be a date"),
    ({"data": {"files": {"timezone": "Europe/Berln"}}}, "data.files.timezone must be a time zone"),
    ({"data": {"files": {"csv": {"encoding": "utf-9"}}}}, "data.files.csv.encoding must be a text encoding"),
    ({"features": {"families": ["spend", "astrology"]}}, "features.families has unknown families ['astrology']"),
    ({"features": {"cutoff_every_months": 0}}, "features.cutoff_every_months must be >= 1, got 0"),
    ({"features": {"windows_days": [365, 90]}}, "features.windows_days must be increasing, got [365, 90]"),
    ({"evaluate": {"k": []}}, "evaluate.k must have at least 1 item(s), got []"),
    ({"evaluate": {"backtest_folds": 0}}, "evaluate.backtest_folds must be >= 1, got 0"),
    ({"evaluate": {"size_band_employees": []}}, "evaluate.size_band_employees must have at least 1 item(s)"),
    ({"evaluate": {"capacity_shares": [0.05, 1.5]}}, "evaluate.capacity_shares[1] must be < 1, got 1.5"),
    ({"evaluate": {"confidence": 95}}, "evaluate.confidence must be < 1, got 95"),
    ({"labels": {"key_account": {"revenue_share": 80}}}, "labels.key_account.revenue_share must be < 1, got 80"),
    ({"model": {"learning_rate": 0}}, "model.learning_rate must be > 0, got 0"),
    ({"report": {"top_n": -5}}, "report.top_n must be >= 1, got -5"),
])
def test_bad_values_are_config_errors_at_load_naming_the_key(overrides, message):
    raw = small_params()
    for group, values in overrides.items():  # nested merge, two levels deep
        for key, value in values.items():
            raw[group][key] = {**raw[group][key], **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=re.escape(message)):
        params_from_dict(raw)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        params_from_dict(small_params(report={"top_n": 0}, score={"as_of": "never"}))
    assert sorted(str(raised.value).splitlines()) == [
        "params: report.top_n must be >= 1, got 0",
        "params: score.as_of must be a date such as 2024-01-31, got 'never'",
    ]


def test_the_shipped_profiles_load():
    for profile in (REPO / "params.yaml", REPO / "configs" / "online_retail_ii.yaml"):
        load_params(profile)


def test_a_bad_date_exits_2_before_any_stage_runs(project):
    result = CliRunner().invoke(app, ["score", "--params", str(project(score={"as_of": "2025-13-01"}))])
    assert result.exit_code == 2
    assert "score.as_of must be a date" in result.stderr
