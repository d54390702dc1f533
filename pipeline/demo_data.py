"""Stage demo-data: the demo world `demo.world` (demo/worlds.py) simulated as the demo params say, written as the
raw tables and the ground truth the oracle reads (demo/oracle.py)."""

from __future__ import annotations

from demo.common import DemoTables, SimulationSettings
from demo.oracle import GROUND_TRUTH_FILE
from demo.worlds import generate
from pipeline.common.config import DemoConfig, Params
from pipeline.common.io import atomic_dir


def simulation_settings(demo: DemoConfig) -> SimulationSettings:
    """The simulator's settings from params.demo."""
    return SimulationSettings(n_customers=demo.n_customers, start=demo.start, end=demo.end,
                              n_categories=demo.n_categories, n_products=demo.n_products,
                              n_account_owners=demo.n_account_owners, world=demo.world)


def run(params: Params) -> DemoTables | None:
    """Stage demo-data: write the demo tables as Parquet into demo.output_dir (replaced atomically).

    With data.source 'files' it writes only a note, so `dvc repro` never generates unused data."""
    with atomic_dir(params.demo.output_dir) as tmp:
        if params.data.source != "demo":
            (tmp / "README.txt").write_text("No demo data: data.source is not 'demo'.\n", encoding="utf-8")
            return None
        tables = generate(simulation_settings(params.demo), params.seed)
        for name in ("customers", "transactions", "firmographics"):
            getattr(tables, name).to_parquet(tmp / f"{name}.parquet", index=False)
        tables.ground_truth.to_parquet(tmp / GROUND_TRUTH_FILE, index=False)
    return tables
