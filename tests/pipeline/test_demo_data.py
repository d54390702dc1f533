"""Stage demo-data: the demo params become the simulator's settings; the tables and the ground truth are
written as the simulator returns them, and nothing but a note when the data come from files."""

from __future__ import annotations

import pandas as pd

from demo.oracle import GROUND_TRUTH_FILE
from pipeline.common.config import DemoConfig, load_params
from pipeline.demo_data import run, simulation_settings


def test_the_settings_carry_every_demo_param():
    settings = simulation_settings(DemoConfig(n_customers=300, start_date="2021-03-01", years=2, n_categories=5,
                                              n_products=40, n_account_owners=3))
    assert (settings.n_customers, settings.n_categories, settings.n_products, settings.n_account_owners) == (
        300, 5, 40, 3)
    assert (settings.start, settings.end) == (pd.Timestamp("2021-03-01"), pd.Timestamp("2023-03-01"))


def test_the_tables_and_the_ground_truth_are_written(project):
    params = load_params(project(demo={"n_customers": 200, "years": 2}))
    tables = run(params)
    raw = params.demo.output_dir
    for name in ("customers", "transactions", "firmographics"):
        pd.testing.assert_frame_equal(pd.read_parquet(raw / f"{name}.parquet"), getattr(tables, name))
    pd.testing.assert_frame_equal(pd.read_parquet(raw / GROUND_TRUTH_FILE), tables.ground_truth)


def test_with_files_as_the_source_only_a_note_is_written(project, tmp_path):
    params = load_params(project(data={"source": "files", "raw_dir": str(tmp_path / "exports")},
                                 demo={"output_dir": str(tmp_path / "demo")}))
    assert run(params) is None
    assert [p.name for p in params.demo.output_dir.iterdir()] == ["README.txt"]
