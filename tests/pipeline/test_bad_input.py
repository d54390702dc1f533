"""The bad-input corpus (tests/data/bad_input, described in its README): `kap validate` on each case either stops
with exit code 2 and a message naming the file, the column and example values, or makes a documented repair
that the data-quality report counts. Case files are copied into a temporary raw folder; the corpus is never
touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.common.config import load_params

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_input"
RAW = Path("raw")
runner = CliRunner()


def validate(project, transactions: list, customers: list = (), **files):
    """Copy the named corpus files (or {path, columns} entries) to raw/ and run `kap validate` on them."""
    RAW.mkdir(exist_ok=True)
    sources = {}
    for table, entries in (("transactions", transactions), ("customers", customers)):
        sources[table] = [{"path": e} if isinstance(e, str) else e for e in entries]
        for source in sources[table]:
            if not (RAW / source["path"]).exists():  # a file the test wrote itself stays as it is
                shutil.copy(CORPUS / source["path"], RAW / source["path"])
    params = project(data={"source": "files", "raw_dir": str(RAW), "files": {**sources, **files}})
    return runner.invoke(app, ["validate", "--params", str(params)]), load_params(params)


def assert_fatal(outcome, *expected: str) -> None:
    result, params = outcome
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert not params.data.validated_dir.exists()


def quality(outcome) -> dict:
    result, params = outcome
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads((params.data.quality_dir / "quality.json").read_text(encoding="utf-8"))


def validated(outcome, table: str) -> pd.DataFrame:
    return pd.read_parquet(outcome[1].data.validated_dir / f"{table}.parquet")


def spend(outcome) -> dict[str, float]:
    return validated(outcome, "transactions").groupby("customer_id")["amount"].sum().to_dict()


# --- fatal: exit code 2, file, column and examples named -------------------------------------------------------

@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("missing_required_column.csv",
         ["missing_required_column.csv", "column 'timestamp'", "missing", "'product_id', 'amount'"]),
        ({"path": "mapped_column_absent.csv",
          "columns": {"Rechnung": "invoice_id", "Kunde": "customer_id", "Buchungsdatum": "timestamp"}},
         ["mapped_column_absent.csv", "column 'Buchungsdatum'", "does not exist", "'Datum'"]),
        ("empty.csv", ["empty.csv", "empty"]),
        ("header_only.csv", ["header_only.csv", "no rows"]),
        ("semicolon_delimited.csv", ["semicolon_delimited.csv", "split evenly on ';'",
                                     "data.files.csv.delimiter"]),
    ],
    ids=["missing_required_column", "mapped_column_absent", "empty_file", "header_only", "wrong_delimiter"],
)
def test_unusable_file_layout_is_fatal(project, source, expected):
    assert_fatal(validate(project, [source]), *expected)


def test_non_utf8_text_is_fatal_naming_column_and_lines(project):
    assert_fatal(validate(project, ["transactions.csv"], ["latin1_customers.csv"]),
                 "latin1_customers.csv", "column 'company_name'", "not valid utf-8", "data.files.csv.encoding",
                 "M\ufffdller & S\ufffdhne GmbH", "Caf\ufffd Sol")


def test_latin1_encoding_setting_reads_the_same_file(project):
    outcome = validate(project, ["transactions.csv"], ["latin1_customers.csv"], csv={"encoding": "latin-1"})
    assert quality(outcome)["rows_kept"]["customers"] == 3
    customers = validated(outcome, "customers").set_index("customer_id")
    assert customers.loc["C1", "company_name"] == "Müller & Söhne GmbH"
    assert customers.loc["C2", "country"] == "España"


def test_unparsable_dates_are_fatal(project):
    assert_fatal(validate(project, ["unparsable_dates.csv"]),
                 "unparsable_dates.csv", "column 'timestamp'", "2 value(s) are not dates", "yesterday", "31.02.2023")


def test_missing_timestamp_is_fatal(project):
    assert_fatal(validate(project, ["missing_timestamp.csv"]),
                 "missing_timestamp.csv", "column 'timestamp'", "not_nullable", "I2")


def test_thousands_separators_are_refused_when_set_to_none(project):
    assert_fatal(validate(project, ["thousands_separators.csv"], csv={"thousands": "none"}),
                 "thousands_separators.csv", "column 'amount'", "data.files.csv.thousands", "1,234.50")


def test_thousands_separators_are_read_by_inference(project):
    outcome = validate(project, ["thousands_separators.csv"])
    quality(outcome)
    assert validated(outcome, "transactions")["amount"].tolist() == [1234.5, 987.0, 12000.0]


def test_infinite_amount_is_fatal(project):
    assert_fatal(validate(project, ["inf_amounts.csv"]),
                 "inf_amounts.csv", "column 'amount'", "not finite numbers", "inf")


def test_a_bad_new_export_keeps_the_last_good_tables(project):
    good = validated(validate(project, ["transactions.csv"]), "transactions")
    shutil.copy(CORPUS / "unparsable_dates.csv", RAW / "transactions.csv")  # the next export is broken
    result, params = validate(project, ["transactions.csv"])
    assert result.exit_code == 2 and "transactions.csv" in result.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(params.data.validated_dir / "transactions.parquet"), good)


# --- documented repairs: exit code 0, counted in quality.json ---------------------------------------------------

def test_wrong_delimiter_is_fixed_by_the_csv_options(project):
    outcome = validate(project, ["semicolon_delimited.csv"], csv={"delimiter": ";", "decimal": ","})
    assert quality(outcome)["rows_kept"]["transactions"] == 2
    assert validated(outcome, "transactions")["amount"].tolist() == [10.5, 20.0]


def test_iso_and_day_first_dates_mixed(project):
    outcome = validate(project, ["mixed_date_formats.csv"], csv={"dayfirst": True})
    assert quality(outcome)["repairs"]["non_iso_dates_inferred"] == 2
    stamps = validated(outcome, "transactions").set_index("invoice_id")["timestamp"]
    assert stamps.to_dict() == {  # ISO dates never read day-first
        "I1": pd.Timestamp("2023-03-04 10:00"), "I2": pd.Timestamp("2023-03-05"),
        "I3": pd.Timestamp("2023-03-13 08:30"), "I4": pd.Timestamp("2023-03-12"),
    }


def test_aware_timestamps_are_converted_to_the_configured_zone(project):
    outcome = validate(project, ["timezones_mixed.csv"], timezone="Europe/Berlin")
    assert quality(outcome)["repairs"]["timezone_aware_converted"] == 3
    stamps = validated(outcome, "transactions").set_index("invoice_id")["timestamp"]
    assert stamps.to_dict() == {
        "I1": pd.Timestamp("2023-03-04 10:00"),  # naive: already Berlin time
        "I2": pd.Timestamp("2023-03-04 11:00"),  # Z, winter time
        "I3": pd.Timestamp("2023-07-04 10:00"),  # +02:00, summer time
        "I4": pd.Timestamp("2023-03-04 16:00"),  # -05:00
    }


def test_future_dated_lines_are_dropped(project):
    outcome = validate(project, ["future_dated.csv"], valid_until="2024-01-01")
    assert quality(outcome)["transaction_lines_dropped"]["future_dated"] == 2
    assert sorted(validated(outcome, "transactions")["invoice_id"]) == ["I1", "I4"]


def test_negative_amounts_net_and_absurd_amounts_are_dropped(project):
    outcome = validate(project, ["negative_and_absurd_amounts.csv"])
    report = quality(outcome)
    assert report["transaction_lines_dropped"]["absurd_amount"] == 2
    assert spend(outcome) == {"C1": 70.0, "C2": 50.0, "C3": 7.0}
    assert report["revenue"]["credited"] == 30.0


def test_thousands_separator_setting_parses_amounts(project):
    outcome = validate(project, ["thousands_separators.csv"], csv={"thousands": ","})
    quality(outcome)
    assert validated(outcome, "transactions")["amount"].tolist() == [1234.5, 987.0, 12000.0]


def test_nan_and_empty_amounts_are_dropped_as_missing(project):
    outcome = validate(project, ["nan_amounts.csv"])
    assert quality(outcome)["transaction_lines_dropped"]["missing_amount"] == 3
    assert validated(outcome, "transactions")["invoice_id"].tolist() == ["I1", "I5"]


def test_a_later_file_supersedes_an_earlier_one_over_its_days(project):
    outcome = validate(project, ["overlap_earlier.csv", "overlap_later.csv"], ["customers.csv"])
    dropped = quality(outcome)["transaction_lines_dropped"]
    assert dropped["overlap"] == 2
    assert validated(outcome, "transactions")["invoice_id"].tolist() == ["I1", "I2", "I3", "I4", "I5"]


def test_identical_lines_within_one_file_are_kept(project):
    outcome = validate(project, ["repeated_scans.csv"], ["customers.csv"])
    report = quality(outcome)
    assert report["rows_kept"]["transactions"] == 3
    assert sum(report["transaction_lines_dropped"].values()) == 0
    assert spend(outcome) == {"C1": 20.0, "C2": 20.0}


def test_conflicting_duplicate_customers_keep_the_last_row(project):
    outcome = validate(project, ["transactions.csv"], ["conflicting_customers.csv"])
    report = quality(outcome)
    assert report["repairs"]["conflicting_duplicate_customers_kept_last"] == 1  # C2's exact repeat is no conflict
    assert [(e["customer_id"], e["industry"]) for e in report["conflicting_customer_examples"]] == [
        ("C1", "Retail"), ("C1", "Wholesale")]
    customers = validated(outcome, "customers").set_index("customer_id")
    assert len(customers) == 3
    assert customers.loc["C1", "industry"] == "Wholesale"


def test_unknown_customers_get_a_minimal_row(project):
    outcome = validate(project, ["unknown_customers.csv"], ["customers.csv"])
    assert quality(outcome)["repairs"]["unknown_customers_added"] == 2
    customers = validated(outcome, "customers").set_index("customer_id")
    assert list(customers.index) == ["C1", "C2", "C3", "C8", "C9"]
    assert customers.loc[["C8", "C9"], "company_name"].isna().all()


def test_int_float_and_text_ids_match_one_customer_and_sources_stay_unchanged(project):
    files = ["ids_as_text.csv", "ids_as_float.parquet", "customers_int_ids.parquet"]
    outcome = validate(project, files[:2], files[2:])
    report = quality(outcome)
    assert report["repairs"]["ids_normalised"] == 3  # "12345.0" in the CSV, both float ids in the Parquet
    assert report["repairs"]["unknown_customers_added"] == 0
    assert spend(outcome) == {"12345": 70.0, "67890": 80.0}
    for name in files:
        assert (RAW / name).read_bytes() == (CORPUS / name).read_bytes()


def test_a_huge_field_validates(project):
    RAW.mkdir()
    (RAW / "huge_name_customers.csv").write_text(
        "customer_id,company_name\nC1," + "x" * 1_000_000 + "\nC2,Beta AG\n", encoding="utf-8")
    outcome = validate(project, ["transactions.csv"], ["huge_name_customers.csv"])
    assert quality(outcome)["rows_kept"]["customers"] == 3
    assert validated(outcome, "customers")["company_name"].str.len().tolist()[:2] == [1_000_000, 7]


def test_embedded_newline_in_a_quoted_name_stays_one_row(project):
    outcome = validate(project, ["transactions.csv"], ["embedded_newline_customers.csv"])
    assert quality(outcome)["rows_read"]["customers"] == 3
    assert validated(outcome, "customers")["company_name"].tolist() == [
        "Alpha\nLogistics GmbH", "Beta AG", "Gamma SA"]


def test_formula_and_html_names_are_stored_verbatim(project):
    outcome = validate(project, ["transactions.csv"], ["formula_and_html_names.csv"])
    quality(outcome)
    assert validated(outcome, "customers")["company_name"].tolist() == [
        '=HYPERLINK("http://evil.example","click")', "+49 30 1234567", "-2+3", "@SUM(A1:A9)",
        "<script>alert('x')</script>", "<b>Bold & Co</b>"]


def test_lines_without_customer_id_are_dropped(project):
    outcome = validate(project, ["no_customer_id.csv"], ["customers.csv"])
    report = quality(outcome)
    assert report["transaction_lines_dropped"]["no_customer_id"] == 2  # empty and blank
    assert report["repairs"]["ids_normalised"] == 0
    assert validated(outcome, "transactions")["invoice_id"].tolist() == ["I1", "I4"]


def test_cancellations_by_invoice_prefix_are_netted(project):
    outcome = validate(project, ["cancellations.csv"], ["customers.csv"], cancellations={"invoice_prefix": "C"})
    assert quality(outcome)["repairs"]["cancellation_lines_netted"] == 2
    amounts = validated(outcome, "transactions").set_index("invoice_id")["amount"]
    assert amounts.to_dict() == {"I1": 100.0, "I2": 50.0, "C1001": -30.0, "C1002": -20.0}
    assert spend(outcome) == {"C1": 70.0, "C2": 30.0}  # customer ids starting with C are no cancellations


def test_adjustment_lines_are_dropped(project):
    outcome = validate(project, ["adjustment_lines.csv"], ["customers.csv"],
                       exclude_products=["POST", "M", "BANK CHARGES"])
    assert quality(outcome)["transaction_lines_dropped"]["adjustment_lines"] == 3
    assert validated(outcome, "transactions")["product_id"].tolist() == ["P1", "P2"]
