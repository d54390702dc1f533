"""Shared test helpers: tiny hand-built tables with known answers."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml


def transactions_frame(rows: list[tuple]) -> pd.DataFrame:
    """Transactions from (customer_id, invoice_id, timestamp, category, amount, days_to_pay) tuples."""
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "timestamp", "category", "amount", "days_to_pay"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[us]")
    frame["amount"] = frame["amount"].astype("float64")
    frame["days_to_pay"] = frame["days_to_pay"].astype("float64")
    return frame


def customers_frame(ids: list[str]) -> pd.DataFrame:
    """Customers with fixed firmographics (industry by position, 10 employees each)."""
    n = len(ids)
    return pd.DataFrame({
        "customer_id": ids,
        "industry": ["Retail", "Wholesale"] * (n // 2) + ["Retail"] * (n % 2),
        "country": "Germany",
        "region": "DACH",
        "employees": np.full(n, 10.0),
        "annual_revenue": np.full(n, 1e6),
        "founded_year": np.full(n, 2000.0),
        "credit_rating": "A",
        "acquisition_channel": "Web shop",
    })


@pytest.fixture
def known_history() -> pd.DataFrame:
    """Customer A: four invoices (one a credit note), customer B: one invoice; cutoff 2023-07-01."""
    return transactions_frame([
        ("A", "I1", "2022-07-15 10:00", "Tools", 100.0, 10),   # 351 days before the cutoff
        ("A", "I2", "2023-03-10 09:00", "Tools", 200.0, 30),   # 113 days before
        ("A", "I2", "2023-03-10 09:00", "Paint", 50.0, 30),
        ("A", "I3", "2023-06-20 12:00", "Safety", 300.0, 20),  # 11 days before; paid after the cutoff
        ("A", "C1", "2023-06-25 12:00", "Safety", -60.0, np.nan),
        ("A", "I4", "2023-07-01 00:00", "Tools", 999.0, 5),    # at the cutoff: invisible
        ("B", "I5", "2023-01-05 08:00", "Paint", 80.0, 40),
    ])


REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def small_params(**overrides: dict) -> dict:
    """The project's params.yaml with nested overrides, e.g. small_params(demo={"n_customers": 500})."""
    params = yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))
    for group, values in overrides.items():
        if isinstance(values, dict):
            params[group] = {**params[group], **values}
        else:
            params[group] = values
    return params


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder as the working directory; returns a function that writes params.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def write(**overrides: dict) -> Path:
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(small_params(**overrides)), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (2 cores, 2 shuffle partitions, no UI) for every Spark test of a worker: the tests
    that use it are in the xdist group "spark", so one worker starts it (~11 s)."""
    from pipeline.common.config import SPARK_MASTER_VARIABLE, SparkConfig
    from pipeline.common.spark import spark_session

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(SPARK_MASTER_VARIABLE, raising=False)
        session = spark_session(SparkConfig(master="local[2]", conf={
            "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2", "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false"}), app_name="kap-tests")
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # it logs at exit, after pytest closed the streams
    yield session
    session.stop()


def small_world(n_customers: int = 300, seed: int = 3):
    """A small demo world (customers, transactions, firmographic snapshots) over 2021-2023."""
    from demo.simulator import generate_demo
    from pipeline.common.config import DemoConfig
    from pipeline.demo_data import simulation_settings

    settings = simulation_settings(DemoConfig(n_customers=n_customers, years=3, start_date="2021-01-01",
                                              n_products=60))
    return generate_demo(settings, seed=seed)


def probed_spine(customer_ids, every: int) -> pd.DataFrame:
    """A spine at three cutoffs, each probing every `every`-th customer from another offset, plus a customer
    without any line at each."""
    cutoffs = [pd.Timestamp("2022-06-01"), pd.Timestamp("2023-01-01"), pd.Timestamp("2023-06-01")]
    return pd.concat([pd.DataFrame({"customer_id": [*customer_ids[i::every], "NO-LINES"], "cutoff": c})
                      for i, c in enumerate(cutoffs)], ignore_index=True).astype({"cutoff": "datetime64[us]"})
