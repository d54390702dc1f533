"""Stage demo-data: the demo params become the simulator's settings; the tables and the ground truth of the
chosen world are written as the simulator returns them, and nothing but a note when the data come from files."""

from __future__ import annotations

import typing
from pathlib import Path

import pandas as pd
import pytest

from demo.oracle import GROUND_TRUTH_FILE
from demo.worlds import WORLDS
from pipeline.common.config import DemoConfig, load_params
from pipeline.common.errors import ConfigError
from pipeline.demo_data import run, simulation_settings
from pipeline.evaluate import oracle_score


def test_the_settings_carry_every_demo_param():
    settings = simulation_settings(DemoConfig(n_customers=300, start_date="2021-03-01", years=2, n_categories=5,
                                              n_products=40, n_account_owners=3, world="projects"))
    assert (settings.n_customers, settings.n_categories, settings.n_products, settings.n_account_owners) == (
        300, 5, 40, 3)
    assert (settings.start, settings.end) == (pd.Timestamp("2021-03-01"), pd.Timestamp("2023-03-01"))
    assert settings.world == "projects"
    assert DemoConfig().world == "adoption"


def test_the_params_offer_every_built_in_world():
    assert set(typing.get_args(DemoConfig.model_fields["world"].annotation)) == set(WORLDS)


def test_an_unknown_world_is_refused(project):
    with pytest.raises(ConfigError, match=r"demo\.world"):
        load_params(project(demo={"world": "tenders"}))


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_the_tables_and_the_ground_truth_are_written(project, world):
    params = load_params(project(demo={"n_customers": 200, "years": 2, "world": world}))
    tables = run(params)
    raw = params.demo.output_dir
    for name in ("customers", "transactions", "firmographics"):
        pd.testing.assert_frame_equal(pd.read_parquet(raw / f"{name}.parquet"), getattr(tables, name))
    pd.testing.assert_frame_equal(pd.read_parquet(raw / GROUND_TRUTH_FILE), tables.ground_truth)


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_the_evaluate_stage_scores_the_oracle_of_the_world(project, world):
    params = load_params(project(demo={"n_customers": 300, "years": 3, "world": world}))
    tables = run(params)
    test = pd.DataFrame({"customer_id": tables.customers["customer_id"], "cutoff": pd.Timestamp("2022-01-01")})
    scores = oracle_score(params, test)
    assert scores.notna().all() and (scores >= 0).all() and (scores > 0).mean() > 0.5


def test_with_files_as_the_source_only_a_note_is_written(project, tmp_path):
    params = load_params(project(data={"source": "files", "raw_dir": str(tmp_path / "exports")},
                                 demo={"output_dir": str(tmp_path / "demo")}))
    assert run(params) is None
    assert [p.name for p in params.demo.output_dir.iterdir()] == ["README.txt"]


def test_the_projects_profile_simulates_that_world_apart_from_the_default_demo():
    repo = Path(__file__).resolve().parents[2]
    default, profile = load_params(repo / "params.yaml"), load_params(repo / "configs" / "projects.yaml")
    assert (default.demo.world, profile.demo.world) == ("adoption", "projects")
    assert profile.demo.output_dir == profile.data.raw_dir
    assert profile.demo.model_dump(exclude={"world", "output_dir"}) == default.demo.model_dump(
        exclude={"world", "output_dir"})
    paths = {name: value for name, value in profile.data if isinstance(value, Path)}
    assert all(path != getattr(default.data, name) for name, path in paths.items())
    assert profile.mlflow.registered_model != default.mlflow.registered_model
