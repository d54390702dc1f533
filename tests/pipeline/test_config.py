import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.common.config import find_project_root, load_params, params_from_dict
from pipeline.common.errors import ConfigError
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
    ({"score": {"as_of": "2025-13-01"}},
     "score.as_of must be a date written YYYY-MM-DD such as 2024-01-31, got '2025-13-01'"),
    *(({"score": {"as_of": day}}, f"score.as_of must be a date written YYYY-MM-DD such as 2024-01-31, got '{day}'")
      for day in ("03.04.2024", "04/03/2024", "20240304", "March 4 2024", "2024-3-4")),
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
    ({"labels": {"key_account": {"revenue_share": "80%"}}}, "labels.key_account.revenue_share must be a number"),
    ({"labels": {"key_account": {"absolute_amount": 0}}}, "labels.key_account.absolute_amount must be > 0, got 0"),
    ({"labels": {"key_account": {"trailing_months": 0}}}, "labels.key_account.trailing_months must be >= 1, got 0"),
    ({"labels": {"key_account": {"rule": "biggest"}}},
     "labels.key_account.rule must be one of 'revenue_share', 'top_share' or 'absolute', got 'biggest'"),
    ({"labels": {"key_account": {"trailing_month": 6}}},
     "unknown key 'labels.key_account.trailing_month' (did you mean 'labels.key_account.trailing_months'?)"),
    ({"model": {"learning_rate": 0}}, "model.learning_rate must be > 0, got 0"),
    ({"score": {"explain_top": -5}}, "score.explain_top must be >= 1, got -5"),
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
        params_from_dict(small_params(model={"learning_rate": 0}, score={"as_of": "never"}))
    assert sorted(str(raised.value).splitlines()) == [
        "params: model.learning_rate must be > 0, got 0",
        "params: score.as_of must be a date written YYYY-MM-DD such as 2024-01-31, got 'never'",
    ]


def test_the_shipped_profiles_load():
    for profile in (REPO / "params.yaml", REPO / "configs" / "online_retail_ii.yaml"):
        load_params(profile)


def test_a_bad_date_exits_2_before_any_stage_runs(project):
    result = CliRunner().invoke(app, ["score", "--params", str(project(score={"as_of": "2025-13-01"}))])
    assert result.exit_code == 2
    assert "score.as_of must be a date" in result.stderr


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_key_is_refused_naming_key_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"dup.yaml, line 3.*duplicate key 'seed' \(first at line 1\)"):
        load_params(write(tmp_path / "dup.yaml", "seed: 1\ndata: {}\nseed: 2\n"))


def test_alias_bomb_is_refused_at_once(tmp_path):
    bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
    with pytest.raises(ConfigError) as raised:
        load_params(write(tmp_path / "bomb.yaml", bomb))
    assert "bomb.yaml, line 2" in str(raised.value) and "alias *a" in str(raised.value)
    assert len(str(raised.value)) < 300


def test_syntax_error_exits_2_naming_file_and_line(tmp_path):
    path = write(tmp_path / "broken.yaml", "seed: 1\ndata: [unclosed\n")
    result = CliRunner().invoke(app, ["validate", "--params", str(path)])
    assert result.exit_code == 2
    assert "broken.yaml, line" in result.stderr and "Traceback" not in result.stderr


def test_non_utf8_file_exits_2(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("seed: 1 # Gr\u00f6\u00dfe\n".encode("latin-1"))
    result = CliRunner().invoke(app, ["validate", "--params", str(path)])
    assert result.exit_code == 2
    assert "latin1.yaml is not UTF-8" in result.stderr


def test_top_level_list_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"list.yaml: the top level must be a mapping"):
        load_params(write(tmp_path / "list.yaml", "- seed\n- data\n"))


def test_unknown_nested_key_suggests_the_known_one():
    with pytest.raises(ConfigError, match=re.escape(
            "params: unknown key 'labels.horizn_months' (did you mean 'labels.horizon_months'?)")):
        params_from_dict(small_params(labels={"horizn_months": 6}))


def test_out_of_range_value_names_the_key():
    with pytest.raises(ConfigError, match=re.escape("params: labels.horizon_months must be >= 1, got 0")):
        params_from_dict(small_params(labels={"horizon_months": 0}))


def test_wrong_type_names_the_key_and_truncates_the_value():
    with pytest.raises(ConfigError) as raised:
        params_from_dict(small_params(model={"n_jobs": "x" * 500}))
    assert str(raised.value).startswith("params: model.n_jobs must be an integer, got 'xxx")
    assert len(str(raised.value)) < 120


def test_extends_chain_resolves_paths_against_each_file(tmp_path, monkeypatch):
    write(tmp_path / "base.yaml", (REPO / "params.yaml").read_text(encoding="utf-8"))
    write(tmp_path / "configs" / "mid.yaml", "extends: ../base.yaml\ndata: {validated_dir: out/validated}\n")
    leaf = write(tmp_path / "configs" / "deep" / "leaf.yaml", "extends: ../mid.yaml\nlabels: {horizon_months: 6}\n")
    monkeypatch.chdir(tmp_path.parent)
    params = load_params(leaf.relative_to(tmp_path.parent))
    root = Path(tmp_path.name)
    assert params.data.raw_dir == root / "data" / "raw" == params.demo.output_dir
    assert params.data.validated_dir == root / "configs" / "out" / "validated"
    assert params.mlflow.tracking_uri == f"sqlite:///{root / 'mlflow.db'}"
    assert params.labels.horizon_months == 6 and params.labels.active_months == 12
    assert params.data.files.transactions == ()


def test_extends_cycle_is_refused(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"'extends' forms a cycle: .*a.yaml -> .*b.yaml -> .*a.yaml"):
        load_params(tmp_path / "a.yaml")


def test_profile_replaces_one_list_and_keeps_the_rest(tmp_path):
    write(tmp_path / "params.yaml", (REPO / "params.yaml").read_text(encoding="utf-8"))
    profile = write(tmp_path / "p.yaml", "extends: params.yaml\nevaluate: {k: [10, 20]}\n")
    params = load_params(profile)
    assert params.evaluate.k == (10, 20) and params.evaluate.capacity_shares == (0.01, 0.05)


def test_schema_has_descriptions_and_forbids_extras(tmp_path):
    out = tmp_path / "schema.json"
    assert CliRunner().invoke(app, ["params-schema", "--output", str(out)]).exit_code == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert "extends" in schema["properties"] and schema["additionalProperties"] is False
    horizon = schema["$defs"]["LabelsConfig"]["properties"]["horizon_months"]
    assert horizon["minimum"] == 1 and horizon["description"].startswith("Outcome window")
    assert schema["$defs"]["LabelsConfig"]["additionalProperties"] is False
    key_account = schema["$defs"][schema["$defs"]["LabelsConfig"]["properties"]["key_account"]["$ref"].split("/")[-1]]
    assert key_account["additionalProperties"] is False
    assert list(key_account["properties"]) == ["rule", "revenue_share", "top_share", "absolute_amount",
                                               "trailing_months"]
    assert all(field["description"] for field in key_account["properties"].values())
    assert key_account["properties"]["revenue_share"]["exclusiveMaximum"] == 1


def test_scalar_anchor_of_params_yaml_loads():
    params = load_params(REPO / "params.yaml")
    assert params.demo.output_dir == params.data.raw_dir == REPO / "data" / "raw"


@pytest.mark.parametrize(("group", "values", "message"), [
    ("labels", {"horizon_months": 10**20}, "labels.horizon_months must be <= 240"),
    ("features", {"cutoff_every_months": 100000}, "features.cutoff_every_months must be <= 240"),
    ("evaluate", {"backtest_folds": 5000}, "evaluate.backtest_folds must be <= 120"),
], ids=["huge_horizon", "huge_cutoff_step", "huge_fold_count"])
def test_month_counts_beyond_any_history_are_refused(group, values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        params_from_dict(small_params(**{group: values}))


def test_a_date_format_pandas_cannot_read_is_refused():
    raw = small_params()
    raw["data"]["files"]["csv"]["date_format"] = "%Q"
    with pytest.raises(ConfigError, match=r"data.files.csv.date_format is not a date format such as %d.%m.%Y"):
        params_from_dict(raw)


def test_spark_master_from_the_environment_wins_over_params(monkeypatch):
    params = params_from_dict(small_params(features={"engine": "spark", "spark": {"master": "local[2]"}}))
    assert params.features.engine == "spark"
    monkeypatch.delenv("SPARK_MASTER", raising=False)
    assert params.features.spark.resolved_master() == "local[2]"
    monkeypatch.setenv("SPARK_MASTER", "spark://head:7077")
    assert params.features.spark.resolved_master() == "spark://head:7077"
    monkeypatch.delenv("SPARK_MASTER")
    assert params_from_dict(small_params()).features.spark.resolved_master() is None  # left to spark-submit


def test_an_unknown_feature_engine_is_a_config_error():
    with pytest.raises(ConfigError, match=r"features.engine"):
        params_from_dict(small_params(features={"engine": "polars"}))
