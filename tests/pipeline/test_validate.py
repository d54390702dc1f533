"""Validation of raw tables: typing, documented repairs, and exit code 2 with a message naming the file,
the column and example rows for fatal problems (the full bad-input corpus is in test_bad_input.py)."""

import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.common.config import CsvOptions, FilesConfig, SourceFile
from pipeline.common.errors import DataError
from pipeline.common.ingest import RawPart, read_file, read_part, type_part
from pipeline.common.validation import supersede_overlaps, validate_tables
from tests.conftest import customers_frame

runner = CliRunner()
TODAY = pd.Timestamp("2026-01-01")


def raw_tables() -> dict[str, pd.DataFrame]:
    customers = customers_frame(["C1", "C2"]).assign(company_name=["=cmd()", "<script>x</script>"],
                                                     account_owner="Ann")
    transactions = pd.DataFrame({
        "invoice_id": ["I1", "I2", "I3"],
        "customer_id": ["C1", "C2", "C9"],
        "timestamp": ["2023-01-02 10:00", "2023-02-03 11:00", "2023-03-04 12:00"],
        "product_id": ["P1", "P2", "P1"],
        "category": ["Tools", "Paint", "Tools"],
        "quantity": ["1", "2", "3"],
        "unit_price": ["10", "20", "30"],
        "amount": ["10", "40", "90"],
        "days_to_pay": ["5", "", "7"],
    })
    return {"customers": customers, "transactions": transactions}


def parts_of(tables: dict[str, pd.DataFrame]) -> dict[str, list[RawPart]]:
    files, parts = FilesConfig(), {}
    for table, frame in tables.items():
        typed, conversions = type_part(frame, table, f"{table}.csv", files.csv, files.timezone)
        parts[table] = [RawPart(table, f"{table}.csv", typed.assign(_file=f"{table}.csv"), len(frame), conversions)]
    return parts


def write_raw(raw_dir, tables):
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(raw_dir / f"{name}.parquet", index=False)


def test_clean_input_is_typed_and_unknown_customers_get_a_row():
    tables = raw_tables()
    result = validate_tables(parts_of(tables), FilesConfig(), TODAY)
    assert str(result.transactions["timestamp"].dtype) == "datetime64[us]"
    assert result.transactions["amount"].tolist() == [10.0, 40.0, 90.0]
    assert "C9" in set(result.customers["customer_id"])
    assert result.quality["repairs"]["unknown_customers_added"] == 1
    assert tables["transactions"]["amount"].tolist() == ["10", "40", "90"]  # input not mutated


def test_ids_written_as_floats_match_text_ids():
    tables = raw_tables()
    tables["transactions"]["customer_id"] = [1.0, 2.0, 2.0]
    tables["customers"]["customer_id"] = ["1", "2.0"]
    result = validate_tables(parts_of(tables), FilesConfig(), TODAY)
    assert set(result.transactions["customer_id"]) == {"1", "2"}
    assert result.quality["repairs"]["unknown_customers_added"] == 0


def test_customer_attributes_come_from_the_latest_transaction_with_a_value():
    tables = raw_tables()
    tables["transactions"] = pd.concat([tables["transactions"], tables["transactions"].iloc[[2]].assign(
        timestamp="2023-04-01 09:00", invoice_id="I4")], ignore_index=True)
    tables["transactions"]["country"] = ["Spain", "France", "Italy", None]  # C9's later line has no country
    files = FilesConfig(customer_attributes_from_transactions=("country",))
    result = validate_tables(parts_of(tables), files, TODAY)
    countries = result.customers.set_index("customer_id")["country"]
    assert countries["C9"] == "Italy"  # latest line with a value
    assert countries["C1"] == "Germany"  # the customers table wins where it has a value
    with pytest.raises(DataError, match="region"):
        validate_tables(parts_of(raw_tables()), FilesConfig(customer_attributes_from_transactions=("region",)), TODAY)


def test_a_later_file_supersedes_earlier_ones_over_its_days():
    first = pd.DataFrame({"invoice_id": ["I1", "I2", "I3"],
                          "timestamp": pd.to_datetime(["2023-01-01 09:00", "2023-01-05 10:00", "2023-01-06 23:00"])})
    second = pd.DataFrame({"invoice_id": ["I2", "I4"],
                           "timestamp": pd.to_datetime(["2023-01-05 11:00", "2023-01-09 08:00"])})
    kept, dropped = supersede_overlaps([first, second])
    assert dropped == 2  # 01-05 and 01-06 lie within the later file's days 01-05..01-09, which repeat invoice I2
    assert kept[0]["timestamp"].tolist() == [pd.Timestamp("2023-01-01 09:00")]
    assert len(kept[1]) == 2


def test_files_that_share_no_invoice_are_combined_not_superseded():
    north = pd.DataFrame({"invoice_id": ["N1", "N2"], "timestamp": pd.to_datetime(["2023-01-02", "2023-01-20"])})
    south = pd.DataFrame({"invoice_id": ["S1", "S2"], "timestamp": pd.to_datetime(["2023-01-03", "2023-01-21"])})
    kept, dropped = supersede_overlaps([north, south])  # one export per region over the same days
    assert dropped == 0 and [len(k) for k in kept] == [2, 2]


def test_every_sheet_of_a_workbook_with_one_header_is_read(tmp_path):
    header = ["invoice_id", "customer_id", "timestamp", "amount"]

    def sheet(row: list[str], columns: list[str] = header) -> pd.DataFrame:
        return pd.DataFrame([row], columns=columns)

    with pd.ExcelWriter(tmp_path / "sales.xlsx") as workbook:
        sheet(["I1", "C1", "2023-01-02", "10"]).to_excel(workbook, sheet_name="North", index=False)
        sheet(["I2", "C2", "2023-01-03", "20"]).to_excel(workbook, sheet_name="South", index=False)
    part = read_part(tmp_path / "sales.xlsx", SourceFile(path="sales.xlsx"), "transactions", CsvOptions(), "UTC")
    assert part.frame["invoice_id"].tolist() == ["I1", "I2"]
    assert part.conversions["repeated_headers_dropped"] == 1  # the second sheet's header row
    with pd.ExcelWriter(tmp_path / "mixed.xlsx") as workbook:
        sheet(["I1", "C1", "2023-01-02", "10"]).to_excel(workbook, sheet_name="Sales", index=False)
        sheet(["Alpha"], ["company_name"]).to_excel(workbook, sheet_name="Names", index=False)
    with pytest.raises(DataError, match=r"mixed.xlsx: its sheets \['Sales', 'Names'\] have different header rows"):
        read_file(tmp_path / "mixed.xlsx", CsvOptions())


def test_no_line_left_names_the_reasons_and_the_settings():
    tables = raw_tables()
    with pytest.raises(DataError, match=r"no transaction line is left after cleaning \(lines dropped: "
                                        r"before_min_date 3; see data.files.min_date"):
        validate_tables(parts_of(tables), FilesConfig(min_date="2030-01-01"), TODAY)


@pytest.mark.parametrize(
    ("table", "change", "expected"),
    [
        ("transactions", lambda f: f.drop(columns="timestamp"), ["transactions.parquet", "timestamp", "missing"]),
        ("transactions", lambda f: f.assign(timestamp=["2023-01-02", "yesterday", "2023-03-04"]),
         ["transactions.parquet", "'timestamp'", "not dates", "yesterday"]),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_file_column_and_rows(project, table, change, expected):
    params = project()
    tables = raw_tables()
    tables[table] = change(tables[table])
    write_raw(params.parent / "data" / "raw", tables)
    result = runner.invoke(app, ["validate", "--params", str(params)])
    assert result.exit_code == 2, result.output
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert not (params.parent / "data" / "validated").exists()  # nothing half-written


def test_console_script_returns_exit_code_2(project):
    params = project()
    tables = raw_tables()
    tables["transactions"] = tables["transactions"].drop(columns="timestamp")
    write_raw(params.parent / "data" / "raw", tables)
    completed = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--params", str(params)],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 2
    assert "timestamp" in completed.stderr and "missing" in completed.stderr


def test_unknown_params_key_is_a_usage_error(project):
    params = project(model={"n_estimatorz": 5})
    result = runner.invoke(app, ["train", "--params", str(params)])
    assert result.exit_code == 2
    assert "n_estimatorz" in result.stderr


def test_demo_output_may_never_be_the_users_raw_folder(project):
    params = project(data={"source": "files", "raw_dir": "exports"}, demo={"output_dir": "exports"})
    result = runner.invoke(app, ["demo-data", "--params", str(params)])
    assert result.exit_code == 2
    assert "demo.output_dir" in result.stderr
