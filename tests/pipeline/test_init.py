"""`kap init`: formats, column mapping, table roles, sizing and the starter profile (pipeline/init.py)."""

import gzip
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.common.config import load_params
from pipeline.common.errors import ConfigError
from pipeline.common.validation import read_sources, validate_tables
from pipeline.init import (
    HEADER_NAMES,
    differing,
    history_months,
    match_column,
    normalise_header,
    plan_for_history,
    propose_mapping,
    required_months,
    table_of,
)

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
N_CUSTOMERS = 30
BANDS = ["1-9", "10-49", "50-249", "250+"]
BAND_MIDPOINTS = [5.0, 29.5, 149.5, 250.0]  # data.files.band_value midpoint; an open band: its bound


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder (the repository's params.yaml) as the working directory, with an exports folder."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "exports").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def monthly_lines(first_month: str, months: int, day_of) -> pd.DataFrame:
    """One line per customer and month: customer i buys on day `day_of(i)` for 100 * (i + 1) * 1.5 + 0.25."""
    rows = []
    for month in pd.date_range(first_month, periods=months, freq="MS"):
        for i in range(N_CUSTOMERS):
            rows.append({"customer": f"K{i:03d}", "date": month + pd.Timedelta(days=day_of(i) - 1),
                         "quantity": i % 5 + 1, "amount": 150.0 * (i + 1) + 0.25, "days": i % 40,
                         "category": f"Gruppe {i % 4}"})
    return pd.DataFrame(rows)


def german(value: float) -> str:
    """1234.25 -> "1.234,25"."""
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def leaves(settings: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) of every non-mapping value."""
    out = []
    for key, value in settings.items():
        out += leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [(f"{prefix}{key}", value)]
    return out


def leaf(settings: dict, dotted: str) -> object:
    for key in dotted.split("."):
        settings = settings.get(key, {}) if isinstance(settings, dict) else {}
    return settings


def write_european_export(folder: Path, bands: bool = True) -> pd.DataFrame:
    """Transactions (;-separated cp1252, German headers and numbers, dd.mm.yyyy, no invoice or product column)
    from 2021-01-01 over 37 months, and a customer file with size bands (else head counts, the bands'
    midpoints rounded down); returns the lines."""
    lines = monthly_lines("2021-01-01", 37, lambda i: i % 28 + 1)
    pd.DataFrame({
        "Kundennummer": lines["customer"],
        "Datum": lines["date"].dt.strftime("%d.%m.%Y"),
        "Menge": lines["quantity"].astype(str),
        "Nettobetrag": lines["amount"].map(german),
        "Warengruppe": lines["category"].str.replace("Gruppe", "Bürobedarf"),
        "Zahlungsdauer": lines["days"].astype(str),
        "Notiz": "",
    }).to_csv(folder / "umsatz.csv", sep=";", index=False, encoding="cp1252")
    pd.DataFrame({
        "Kundennummer": [f"K{i:03d}" for i in range(N_CUSTOMERS)],
        "Firma": [f"Müller {i} GmbH" for i in range(N_CUSTOMERS)],
        "Branche": ["Handel", "Industrie"] * (N_CUSTOMERS // 2),
        "Land": "Deutschland",
        "Mitarbeiter anzahl": [BANDS[i % 4] if bands else str(int(BAND_MIDPOINTS[i % 4]))
                               for i in range(N_CUSTOMERS)],
        "Betreuer": "Frau Schäfer",
        "Bemerkung": "",
    }).to_csv(folder / "kunden.csv", sep=";", index=False, encoding="cp1252")
    return lines


@pytest.mark.parametrize("bands", [False, True], ids=["head_counts", "size_bands"])
def test_european_export_gives_a_minimal_profile_the_pipeline_reads(project, bands):
    lines = write_european_export(project / "exports", bands)
    result = runner.invoke(app, ["init", "exports/umsatz.csv", "exports/kunden.csv", "-o", "configs/acme.yaml"])
    assert result.exit_code == 0, result.output
    assert "left out (no column of ours by that name): Notiz" in result.output
    assert "Bemerkung" in result.output
    profile = yaml.safe_load((project / "configs" / "acme.yaml").read_text(encoding="utf-8"))
    files = profile["data"]["files"]
    assert profile["extends"] == "../params.yaml"
    assert profile["data"]["source"] == "files"
    assert profile["data"]["raw_dir"] == "../exports"
    assert profile["data"]["validated_dir"] == "../data/acme/validated"
    assert profile["data"]["metrics_file"] == "../reports/acme/metrics.json"
    assert files["transactions"] == [{"path": "umsatz.csv", "columns": {
        "Kundennummer": "customer_id", "Datum": "timestamp", "Menge": "quantity", "Nettobetrag": "amount",
        "Warengruppe": "category", "Zahlungsdauer": "days_to_pay"}}]
    assert files["customers"] == [{"path": "kunden.csv", "columns": {
        "Kundennummer": "customer_id", "Firma": "company_name", "Branche": "industry", "Land": "country",
        "Mitarbeiter anzahl": "employees", "Betreuer": "account_owner"}}]
    assert files["csv"] == {"delimiter": ";", "decimal": ",", "thousands": ".", "encoding": "cp1252",
                            "dayfirst": True}
    assert files["derive_invoice_id"] is True
    assert "customer_attributes_from_transactions" not in files  # country comes from the customer file
    # 36 whole months (2021-01 .. 2023-12; January 2024 ends on the 28th): 9-month windows, backtest every 2
    # months, gap 36 - 27 - 6 = 3
    assert profile["labels"] == {"horizon_months": 9, "active_months": 9, "key_account": {"trailing_months": 9}}
    assert profile["evaluate"] == {"backtest_every_months": 2}
    assert profile["split"] == {"validation_gap_months": 3}
    assert "products" not in profile["features"]["families"]  # no product column
    assert {"categories", "expansion", "payment"} <= set(profile["features"]["families"])
    assert set(profile) == {"extends", "data", "demo", "features", "labels", "split", "evaluate", "mlflow"}
    assert "model" not in profile and "currency" not in files  # only what differs from params.yaml

    base = load_params(project / "params.yaml").model_dump(mode="json")
    assert all(value != leaf(base, key) for key, value in leaves(profile) if key != "extends")

    params = load_params(project / "configs" / "acme.yaml")
    assert params.data.raw_dir.resolve() == (project / "exports").resolve()
    assert params.model.num_leaves == 31  # from params.yaml
    tables = validate_tables(read_sources(params), params.data.files, pd.Timestamp("2025-01-01"))
    tx = tables.transactions
    assert len(tx) == len(lines)
    assert tx["amount"].sum() == pytest.approx(lines["amount"].sum())
    assert tx["timestamp"].min() == pd.Timestamp("2021-01-01")
    assert tx["timestamp"].max() == pd.Timestamp("2024-01-28")
    assert tx.loc[tx["customer_id"] == "K012", "timestamp"].iloc[0] == pd.Timestamp("2021-01-13")
    assert tx["invoice_id"].nunique() == len(lines)  # one line per customer and day
    customers = tables.customers.set_index("customer_id")
    assert customers.loc["K001", "employees"] == (BAND_MIDPOINTS[1] if bands else 29.0)
    assert customers.loc["K003", "employees"] == BAND_MIDPOINTS[3]
    assert customers.loc["K002", "company_name"] == "Müller 2 GmbH"


def test_english_comma_export(project):
    lines = monthly_lines("2019-01-01", 50, lambda i: i % 28 + 1)
    pd.DataFrame({
        "InvoiceNo": [f"INV{i}" for i in range(len(lines))],
        "CustomerID": lines["customer"],
        "InvoiceDate": lines["date"].dt.strftime("%m/%d/%Y 10:30"),
        "StockCode": "SKU-1",
        "Quantity": lines["quantity"],
        "UnitPrice": (lines["amount"] / lines["quantity"]).round(2),
        "Country": "United Kingdom",
    }).to_csv(project / "exports" / "sales.csv", index=False)
    result = runner.invoke(app, ["init", "exports/sales.csv"])
    assert result.exit_code == 0, result.output
    profile = yaml.safe_load((project / "configs" / "exports.yaml").read_text(encoding="utf-8"))
    files = profile["data"]["files"]
    assert files["transactions"][0]["columns"] == {
        "InvoiceNo": "invoice_id", "CustomerID": "customer_id", "InvoiceDate": "timestamp",
        "StockCode": "product_id", "Quantity": "quantity", "UnitPrice": "unit_price", "Country": "country"}
    assert files["csv"] == {"decimal": ".", "dayfirst": False}  # delimiter and encoding as params.yaml
    assert "derive_invoice_id" not in files
    assert files["customer_attributes_from_transactions"] == ["country"]
    assert "customers" not in files  # [] in params.yaml too
    assert {"categories", "expansion", "payment"}.isdisjoint(profile["features"]["families"])
    # 50 months: 12-month windows and backtest every 3 months (both as params.yaml), gap 50 - 36 - 9 = 5
    assert "labels" not in profile and "evaluate" not in profile
    assert profile["split"] == {"validation_gap_months": 5}
    assert "first rows of" in result.output and "2019-01-01 10:30:00" in result.output


def ambiguous_export(folder: Path) -> None:
    lines = monthly_lines("2021-01-01", 37, lambda i: i % 12 + 1)  # every day also fits as a month
    pd.DataFrame({"Invoice": range(len(lines)), "Customer": lines["customer"],
                  "Date": lines["date"].dt.strftime("%d/%m/%Y"), "Amount": lines["amount"]}
                 ).to_csv(folder / "tx.csv", index=False)


def test_ambiguous_dates_are_refused_until_decided(project):
    ambiguous_export(project / "exports")
    refused = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml"])
    assert refused.exit_code == 2
    assert "tx.csv, column 'timestamp': every date fits day-first and month-first" in refused.output
    assert "set data.files.csv.dayfirst" in refused.output  # the pipeline's own message, with example rows
    assert "Example rows:" in refused.output
    assert "kap init: decide it with --dayfirst or --monthfirst" in refused.output
    assert not (project / "p.yaml").exists()

    accepted = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml", "--dayfirst"])
    assert accepted.exit_code == 0, accepted.output
    profile = yaml.safe_load((project / "p.yaml").read_text(encoding="utf-8"))
    assert profile["data"]["files"]["csv"]["dayfirst"] is True
    assert profile["extends"] == "params.yaml"
    assert profile["data"]["raw_dir"] == "exports"
    assert profile["data"]["validated_dir"] == "data/p/validated"


def test_existing_profile_needs_force(project):
    ambiguous_export(project / "exports")
    (project / "p.yaml").write_text("seed: 1\n", encoding="utf-8")
    refused = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml", "--dayfirst"])
    assert refused.exit_code == 2
    assert "p.yaml exists; pass --force" in refused.output
    assert (project / "p.yaml").read_text(encoding="utf-8") == "seed: 1\n"
    forced = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml", "--dayfirst", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "extends: params.yaml" in (project / "p.yaml").read_text(encoding="utf-8")


def test_a_zip_archive_is_refused_naming_it(project):
    with zipfile.ZipFile(project / "exports" / "bundle.zip", "w") as archive:
        archive.writestr("tx.csv", "Customer,Date,Amount\nA,2024-01-01,1\n")
    result = runner.invoke(app, ["init", "exports/bundle.zip", "-o", "p.yaml"])
    assert result.exit_code == 2
    assert "exports/bundle.zip: is a zip archive of 1 file(s) ['tx.csv']: unpack it" in result.output
    assert not (project / "p.yaml").exists()


def test_a_history_too_short_for_any_plan_is_refused(project):
    lines = monthly_lines("2022-01-01", 20, lambda i: i % 28 + 1)
    pd.DataFrame({"Beleg": range(len(lines)), "Kunde": lines["customer"],
                  "Datum": lines["date"].dt.strftime("%Y-%m-%d"),
                  "Umsatz": lines["amount"]}).to_csv(project / "exports" / "tx.csv", index=False)
    result = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml"])
    assert result.exit_code == 2
    assert "span 19 whole month(s)" in result.output and "at least 24 months" in result.output


def test_map_decides_a_column_the_names_do_not(project):
    lines = monthly_lines("2021-01-01", 37, lambda i: i % 28 + 1)
    pd.DataFrame({"Order": range(len(lines)), "Client code": lines["customer"],
                  "Date": lines["date"].dt.strftime("%Y-%m-%d"), "Amount": lines["amount"],
                  "Gross": lines["amount"] * 1.19}).to_csv(project / "exports" / "tx.csv", index=False)
    missing = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml"])
    assert missing.exit_code == 2
    assert "column 'customer_id': no column of the file is recognised as customer_id" in missing.output
    mapped = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml", "--map", "Client code=customer_id"])
    assert mapped.exit_code == 0, mapped.output
    columns = yaml.safe_load((project / "p.yaml").read_text(encoding="utf-8"))["data"]["files"]["transactions"][0]
    assert columns["columns"] == {"Order": "invoice_id", "Client code": "customer_id", "Date": "timestamp",
                                  "Amount": "amount"}


@pytest.mark.parametrize(("header", "table", "ours"), [
    ("Invoice", "transactions", "invoice_id"),
    ("InvoiceNo", "transactions", "invoice_id"),
    ("Invoice Number", "transactions", "invoice_id"),
    ("invoice_id", "transactions", "invoice_id"),
    ("Belegnummer", "transactions", "invoice_id"),
    ("Rechnungs-Nr.", "transactions", "invoice_id"),
    ("Customer ID", "transactions", "customer_id"),
    ("CUSTOMER_ID", "customers", "customer_id"),
    ("Kunden-Nr.", "transactions", "customer_id"),
    ("Debitor", "customers", "customer_id"),
    ("InvoiceDate", "transactions", "timestamp"),
    ("Rechnungsdatum", "transactions", "timestamp"),
    ("Net Amount", "transactions", "amount"),
    ("Umsatz", "transactions", "amount"),
    ("Umsatz", "customers", "annual_revenue"),
    ("Revenue band", "customers", "annual_revenue"),
    ("Jahresumsatz", "customers", "annual_revenue"),
    ("Menge", "transactions", "quantity"),
    ("Unit Price", "transactions", "unit_price"),
    ("Einzelpreis", "transactions", "unit_price"),
    ("StockCode", "transactions", "product_id"),
    ("Artikelnummer", "transactions", "product_id"),
    ("Product Group", "transactions", "category"),
    ("Warengruppe", "transactions", "category"),
    ("Land", "customers", "country"),
    ("Branche", "customers", "industry"),
    ("Mitarbeiter", "customers", "employees"),
    ("Mitarbeiteranzahl", "customers", "employees"),
    ("Anzahl Mitarbeiter", "customers", "employees"),
    ("Name", "customers", "company_name"),
    ("Vertriebsmitarbeiter", "customers", "account_owner"),
    ("Zahlungsziel", "transactions", "days_to_pay"),
    ("Days to pay", "transactions", "days_to_pay"),
    ("Gründungsjahr", "customers", "founded_year"),
    ("Bonität", "customers", "credit_rating"),
    ("Name", "transactions", None),  # no company name in transactions
    ("Account Owner", "transactions", None),
    ("Bemerkung", "customers", None),
])
def test_header_names(header, table, ours):
    assert match_column(header, table) == ours


def test_header_names_are_normalised_and_unique_per_table():
    assert normalise_header(" Größe_Über-Straße ") == "groesseueberstrasse"
    assert normalise_header("Café No.") == "cafeno"
    assert all(name == normalise_header(name) for names in HEADER_NAMES.values() for name in names)
    for table in ("transactions", "customers"):
        from pipeline.init import CANONICAL

        names = [n for column in CANONICAL[table] for n in HEADER_NAMES.get(column, ())]
        assert len(names) == len(set(names)), table


def test_two_columns_naming_one_of_ours_are_refused():
    with pytest.raises(ConfigError, match=r"columns 'Betrag' and 'Nettobetrag' both name amount; decide with --map"):
        propose_mapping(["Kunde", "Betrag", "Nettobetrag"], "transactions", "tx.csv", {})
    proposal = propose_mapping(["Kunde", "Betrag", "Nettobetrag", "Text"], "transactions", "tx.csv",
                               {"Betrag": None})
    assert proposal.mapping == {"Kunde": "customer_id", "Nettobetrag": "amount"}
    assert proposal.unmatched == ("Betrag", "Text")


def test_table_of_judges_by_the_columns():
    assert table_of(["Kunde", "Datum", "Betrag"], {}) == "transactions"
    assert table_of(["Customer", "Date", "Quantity", "Price"], {}) == "transactions"
    assert table_of(["Customer", "Date", "Quantity"], {}) is None  # no amount, no unit price
    assert table_of(["Kundennummer", "Firma", "Umsatz", "Kunde seit"], {}) == "customers"
    assert table_of(["Datum", "Betrag"], {}) == "transactions"  # refused later: no customer id
    assert table_of(["Notiz"], {}) is None


@pytest.mark.parametrize(("months", "window", "every", "gap"), [
    (24, 6, 1, 3),    # configs/online_retail_ii.yaml
    (27, 6, 1, 6),
    (35, 6, 1, 6),
    (36, 9, 2, 3),
    (40, 9, 2, 7),
    (47, 9, 2, 9),
    (48, 12, 3, 3),
    (56, 12, 3, 11),
    (57, 12, 3, 12),  # the default gap (the horizon)
    (120, 12, 3, 12),
])
def test_plan_for_history(months, window, every, gap):
    plan = plan_for_history(months, folds=4)
    assert (plan.window_months, plan.backtest_every_months, plan.validation_gap_months) == (window, every, gap)


def test_plan_refuses_short_history_naming_the_months():
    with pytest.raises(ConfigError, match=r"span 23 whole month\(s\).*needs at least 24 months"):
        plan_for_history(23, folds=4)
    assert required_months(6, 1, folds=2) == 22
    assert plan_for_history(22, folds=2).window_months == 6


def backtest_splits(plan, months: int) -> list:
    """The pipeline's labelled cutoffs and each backtest fold's split for `months` of history under `plan`
    (ValueError when a fold has no validation or training cutoff)."""
    from models.split import time_split
    from pipeline.common.adapters import labelled_cutoffs
    from pipeline.common.config import params_from_dict
    from pipeline.init import plan_settings
    from tests.conftest import small_params

    raw, planned = small_params(), plan_settings(plan)
    key_account = {**raw["labels"]["key_account"], **planned["labels"].pop("key_account")}
    params = params_from_dict(small_params(labels={**planned["labels"], "key_account": key_account},
                                           split=planned["split"], evaluate=planned["evaluate"]))
    start = pd.Timestamp("2020-01-01")
    end = start + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    tx = pd.DataFrame({"timestamp": [start + pd.Timedelta(hours=9), end + pd.Timedelta(hours=9)]})
    assert history_months(tx["timestamp"].min(), tx["timestamp"].max()) == months
    cutoffs = labelled_cutoffs(params, tx)
    every = params.evaluate.backtest_every_months
    folds = [cutoffs[-1] - pd.DateOffset(months=every * i) for i in range(params.evaluate.backtest_folds)]
    if min(folds) < cutoffs[0]:
        raise ValueError("a fold's test cutoff precedes the first cutoff")
    return [time_split(cutoffs, params.labels.horizon_months, fold, None, params.split.validation_gap_months)
            for fold in folds]


@pytest.mark.parametrize("months", range(24, 62))
def test_every_plan_gives_every_backtest_fold_a_training_cutoff(months):
    """The rule against the pipeline's own cutoffs and splits: every fold trains; and where the gap is shorter
    than the horizon, one month less of history would leave the earliest fold without a training cutoff."""
    plan = plan_for_history(months, folds=4)
    assert all(split.train for split in backtest_splits(plan, months))
    if plan.validation_gap_months < plan.window_months:
        with pytest.raises(ValueError, match="no training cutoff"):
            backtest_splits(plan, months - 1)


def test_history_months_counts_whole_calendar_months():
    assert history_months(pd.Timestamp("2009-12-01 07:45"), pd.Timestamp("2011-12-09 12:50")) == 24
    assert history_months(pd.Timestamp("2020-01-15"), pd.Timestamp("2020-12-31")) == 11
    assert history_months(pd.Timestamp("2020-01-01"), pd.Timestamp("2020-12-30")) == 11


def test_differing_keeps_only_changed_keys():
    base = {"data": {"source": "demo", "files": {"csv": {"delimiter": ",", "decimal": "auto"}, "customers": []}},
            "labels": {"horizon_months": 12}}
    wanted = {"data": {"source": "files", "files": {"csv": {"delimiter": ",", "decimal": ","}, "customers": []}},
              "labels": {"horizon_months": 12}, "split": {"validation_gap_months": None}}
    assert differing(wanted, base) == {"data": {"source": "files", "files": {"csv": {"decimal": ","}}},
                                       "split": {"validation_gap_months": None}}


def test_ambiguous_numbers_are_refused_until_decided(project):
    lines = monthly_lines("2021-01-01", 37, lambda i: i % 28 + 1)
    pd.DataFrame({"Beleg": range(len(lines)), "Kunde": lines["customer"],
                  "Datum": lines["date"].dt.strftime("%Y-%m-%d"),
                  "Betrag": [f"{i % 9 + 1}.{i % 1000:03d}" for i in range(len(lines))],  # 7.790: 7790 or 7.79?
                  }).to_csv(project / "exports" / "tx.csv", sep=";", index=False)
    refused = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml"])
    assert refused.exit_code == 2
    assert "column 'amount': every separated number has three digits after one '.' or ','" in refused.output
    assert "set data.files.csv.decimal" in refused.output
    assert "kap init: decide it with --decimal . or --decimal ," in refused.output
    accepted = runner.invoke(app, ["init", "exports/tx.csv", "-o", "p.yaml", "--decimal", ","])
    assert accepted.exit_code == 0, accepted.output
    csv = yaml.safe_load((project / "p.yaml").read_text(encoding="utf-8"))["data"]["files"]["csv"]
    assert csv == {"delimiter": ";", "decimal": ","}
    params = load_params(project / "p.yaml")
    tables = validate_tables(read_sources(params), params.data.files, pd.Timestamp("2025-01-01"))
    amounts = tables.transactions["amount"]
    assert sorted(amounts) == sorted(float((i % 9 + 1) * 1000 + i % 1000) for i in range(len(lines)))  # 7.790: 7790


def test_a_gzip_utf16_export_is_read(project):
    lines = monthly_lines("2019-01-01", 50, lambda i: i % 28 + 1)
    text = pd.DataFrame({"Invoice": range(len(lines)), "Customer ID": lines["customer"],
                         "Date": lines["date"].dt.strftime("%Y-%m-%d"), "Revenue": lines["amount"]}
                        ).to_csv(sep="\t", index=False)
    with gzip.open(project / "exports" / "tx.tsv.gz", "wb") as fh:
        fh.write(text.encode("utf-16"))
    result = runner.invoke(app, ["init", "exports/tx.tsv.gz", "-o", "p.yaml"])
    assert result.exit_code == 0, result.output
    assert "tx.tsv.gz: transactions (gzip-compressed CSV, utf-16, delimiter '\\t')" in result.output
    profile = yaml.safe_load((project / "p.yaml").read_text(encoding="utf-8"))
    assert profile["data"]["files"]["csv"] == {"delimiter": "\t", "encoding": "utf-16", "decimal": "."}
    assert profile["data"]["files"]["transactions"][0]["columns"]["Revenue"] == "amount"
