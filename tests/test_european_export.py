"""A realistic European export walked from `kap init` to `kap check` to `kap run-all` with no hand edits.

The export is what a German ERP hands over: `;`-separated, UTF-8 with a byte-order mark, decimal commas and
`.` thousands (`1.234,56`), `dd.mm.yyyy` dates, German headers, no invoice number (one line per customer, day and
product group), no product id, firm sizes as bands (`10-49`), a few guest lines without a customer number. The
purchase history comes from the demo simulator, so the test knows every amount the pipeline must read back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from demo.simulator import generate_demo
from pipeline.common.config import DemoConfig, load_params
from pipeline.demo_data import simulation_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="european_export")]

EMPLOYEE_BANDS = [(1, 9), (10, 49), (50, 249), (250, 999), (1000, None)]


def german_number(value: float) -> str:
    """1234.5 -> '1.234,50'."""
    return f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")


def employee_band(employees: float) -> str:
    for low, high in EMPLOYEE_BANDS:
        if high is None or employees <= high:
            return f"{low}-{high}" if high else f"{low}+"
    raise AssertionError(employees)


def write_export(folder: Path) -> pd.Series:
    """Write umsatz.csv and kunden.csv; returns the true net spend per customer (guest lines excluded)."""
    tables = generate_demo(simulation_settings(DemoConfig(n_customers=2000, years=4, start_date="2021-01-01")),
                           seed=11)
    tx = tables.transactions
    daily = (tx.assign(Datum=tx["timestamp"].dt.normalize())
             .groupby(["customer_id", "Datum", "category"], as_index=False)
             .agg(Umsatz=("amount", "sum"), Zahlungsdauer=("days_to_pay", "max")))
    daily = daily.loc[daily["Umsatz"].round(2) != 0]
    daily["Umsatz"] = daily["Umsatz"].round(2)
    truth = daily.groupby("customer_id")["Umsatz"].sum()
    guests = daily.sample(25, random_state=1).assign(customer_id="-")
    lines = pd.concat([daily, guests]).sort_values("Datum", kind="stable")
    export = pd.DataFrame({
        "Kundennummer": lines["customer_id"],
        "Datum": lines["Datum"].dt.strftime("%d.%m.%Y"),
        "Warengruppe": lines["category"],
        "Umsatz": lines["Umsatz"].map(german_number),
        "Zahlungsdauer (Tage)": lines["Zahlungsdauer"].map(lambda d: "" if np.isnan(d) else str(int(d))),
    })
    export.to_csv(folder / "umsatz.csv", sep=";", index=False, encoding="utf-8-sig")
    customers = tables.customers
    pd.DataFrame({
        "Kundennummer": customers["customer_id"],
        "Firma": customers["company_name"],
        "Branche": customers["industry"],
        "Land": customers["country"],
        "Region": customers["region"],
        "Mitarbeiter": customers["employees"].map(employee_band),
        "Betreuer": customers["account_owner"],
    }).to_csv(folder / "kunden.csv", sep=";", index=False, encoding="utf-8-sig")
    return truth


def kap(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`kap` in a child process, as a user (or cron) runs it; model.n_jobs stays the profile's own."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """The export, the profile kap init wrote for it, and the outputs of kap check and kap run-all."""
    project = tmp_path_factory.mktemp("company")
    (project / "params.yaml").write_bytes((Path(__file__).resolve().parents[1] / "params.yaml").read_bytes())
    (project / "exports").mkdir()
    truth = write_export(project / "exports")
    (project / "configs").mkdir()
    init = kap("init", "exports/umsatz.csv", "exports/kunden.csv", "--output", "configs/company.yaml", cwd=project)
    assert init.returncode == 0, init.stderr[-3000:]
    check = kap("check", "--params", "configs/company.yaml", cwd=project)
    assert check.returncode == 0, check.stderr[-3000:]
    elsewhere = tmp_path_factory.mktemp("cron")  # a scheduled job starts in another folder
    run = kap("run-all", "--params", str(project / "configs/company.yaml"), cwd=elsewhere)
    assert run.returncode == 0, run.stderr[-3000:]
    return project, truth, init, check


def test_init_detects_the_european_format(walked):
    project, _, init, _ = walked
    profile = load_params(project / "configs/company.yaml")
    csv = profile.data.files.csv
    assert (csv.delimiter, csv.decimal, csv.thousands) == (";", ",", ".")
    assert csv.dayfirst is True  # dd.mm.yyyy: the values (a day above 12) decide the order
    assert profile.data.files.derive_invoice_id
    assert "Kundennummer" in init.stdout  # the proposed mapping and preview are shown
    text = (project / "configs/company.yaml").read_text(encoding="utf-8")
    assert "extends:" in text and "\nmodel:" not in text  # only what differs from params.yaml


def test_every_amount_is_read_back_exactly(walked):
    project, truth, _, _ = walked
    profile = load_params(project / "configs/company.yaml")
    validated = pd.read_parquet(profile.data.validated_dir / "transactions.parquet")
    spend = validated.groupby("customer_id")["amount"].sum()
    pd.testing.assert_series_equal(spend.sort_index(), truth.sort_index(), check_names=False, atol=0.005)
    quality = json.loads((profile.data.quality_dir / "quality.json").read_text(encoding="utf-8"))
    assert quality["transaction_lines_dropped"]["no_customer_id"] == 25


def test_size_bands_become_numbers(walked):
    project, _, _, _ = walked
    profile = load_params(project / "configs/company.yaml")
    customers = pd.read_parquet(profile.data.validated_dir / "customers.parquet")
    assert customers["employees"].notna().all()
    assert customers["employees"].between(1, 1000).all()


def test_check_prints_the_plan_and_run_all_writes_the_list(walked):
    project, _, _, check = walked
    assert "test" in check.stdout.lower() and "cutoff" in check.stdout.lower()
    profile = load_params(project / "configs/company.yaml")
    prospects = pd.read_csv(profile.data.scores_dir / "runs/latest/prospects.csv", encoding="utf-8-sig")
    assert len(prospects) > 100
    assert prospects["probability"].is_monotonic_decreasing
