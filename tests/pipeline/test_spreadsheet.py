import re
import time

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipeline.common import spreadsheet
from pipeline.common.errors import DataError
from pipeline.common.spreadsheet import movement, write_prospects_xlsx

PROSPECT_HEADERS = ["Rank", "Customer ID", "Company", "Industry", "Region", "Country", "Owner",
                    "Spend, last 12 months (EUR)", "Score (1–99)", "Tier", "Movement since last run", "Probability",
                    "Reason 1", "Reason 2"]
HOSTILE_NAMES = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"]


def manifest(previous_as_of: str | None = "2026-11-01", eligible: int = 3) -> dict:
    return {"as_of": "2026-12-01", "data_through": "2026-11-30", "model_name": "key_account", "model_version": "7",
            "currency": "EUR", "eligible_customers": eligible, "previous_as_of": previous_as_of,
            "tiers": {"A": 1, "B": 1, "C": 1, "D": 0},
            "trust": ["In the backtest, the top 100 held 41 of the later key accounts.",
                      "Lists issued so far found 12 of 30."],
            "gains": [], "drivers": []}


def prospects(names: list[str | None] | None = None) -> pd.DataFrame:
    names = names or ["Acme GmbH", "Beta AG", "Gamma Ltd"]
    n = len(names)
    return pd.DataFrame({
        "rank": np.arange(1, n + 1), "customer_id": [f"C{i:03d}" for i in range(n)],
        "company_name": pd.Series(names, dtype="str"),
        "industry": pd.Series((["Retail", None] * n)[:n], dtype="str"),
        "region": pd.Series(["North"] * n, dtype="str"), "country": pd.Series(["DE"] * n, dtype="str"),
        "account_owner": pd.Series(([None, "Kim"] * n)[:n], dtype="str"),
        "spend_12m": np.linspace(12345.6, 100.0, n), "probability": np.linspace(0.5, 0.01, n),
        "score": np.linspace(99, 1, n).astype(int), "tier": pd.Series((["A", "B", "C"] * n)[:n], dtype="str"),
        "previous_rank": pd.array(([13, None, 2] * n)[:n], dtype="Int64"),
        "previous_tier": pd.Series((["B", None, "A"] * n)[:n], dtype="str"),
        "previous_score": pd.array(([80, None, 95] * n)[:n], dtype="Int64"),
        "reason_1": pd.Series((["orders in last 180 days: 24, up from 14 — raises", "one order — lowers", ""]
                               * n)[:n], dtype="str"),
        "reason_2": pd.Series((["spend growth: +40% — raises", "", ""] * n)[:n], dtype="str"),
        "effect_1": ([0.8, -0.3, np.nan] * n)[:n], "effect_2": ([0.2, np.nan, np.nan] * n)[:n],
    })


def excel_text(value: str) -> str:
    """`value` with Excel's escapes of control characters in stored strings ("_x000D_") decoded."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda match: chr(int(match.group(1), 16)), value)


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


@pytest.fixture
def workbook(tmp_path) -> openpyxl.Workbook:
    target = write_prospects_xlsx(prospects(), manifest(), tmp_path / "prospects.xlsx")
    return openpyxl.load_workbook(target)


def test_sheets_headers_rows_table_and_frozen_header(workbook):
    assert workbook.sheetnames == ["Prospects", "Reasons", "How to read this"]
    sheet = workbook["Prospects"]
    assert list(rows(sheet)[0]) == PROSPECT_HEADERS
    assert sheet.max_row == 4 and sheet.freeze_panes == "A2"
    table = sheet.tables["ProspectList"]
    assert table.ref == "A1:N4" and table.autoFilter is not None
    assert [cell.value for cell in sheet[2][:3]] == [1, "C000", "Acme GmbH"]
    assert sheet["H2"].value == pytest.approx(12345.6) and sheet["H2"].number_format == "#,##0"
    assert sheet["L2"].number_format == "0.0%" and sheet["M2"].alignment.wrap_text
    reasons = workbook["Reasons"]
    assert list(rows(reasons)[0]) == ["Rank", "Customer ID", "Company", "Reason number", "Reason",
                                      "Effect (log-odds)"]
    assert reasons.freeze_panes == "A2" and reasons.tables["ReasonList"].ref == "A1:F4"
    assert "positive raises" in reasons["F1"].comment.text


def test_movement_column_and_missing_values_are_empty_cells(workbook):
    sheet = workbook["Prospects"]
    assert [sheet.cell(row, 11).value for row in (2, 3, 4)] == ["▲12", "new", "▼1"]
    assert sheet["G2"].value is None and sheet["D3"].value is None  # missing owner, industry
    assert sheet["N3"].value is None and sheet["M4"].value is None  # no reason
    texts = [cell.value for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert not {"nan", "None", "<NA>"} & set(texts)


def test_movement_values():
    assert [movement(3, 15, True), movement(5, 2, True), movement(4, 4, True)] == ["▲12", "▼3", "same"]
    assert movement(1, pd.NA, True) == "new" and movement(1, pd.NA, False) == ""


def test_first_run_has_an_empty_movement_column(tmp_path):
    frame = prospects().assign(previous_rank=pd.array([None] * 3, dtype="Int64"))
    sheet = openpyxl.load_workbook(write_prospects_xlsx(frame, manifest(None), tmp_path / "p.xlsx"))["Prospects"]
    assert [sheet.cell(row, 11).value for row in (2, 3, 4)] == [None, None, None]


def test_reasons_sheet_has_one_row_per_given_reason(workbook):
    frame = prospects()
    given = sum(int((frame[f"reason_{k}"] != "").sum()) for k in (1, 2))
    body = rows(workbook["Reasons"])[1:]
    assert len(body) == given == 3
    assert body[0] == (1, "C000", "Acme GmbH", 1, "orders in last 180 days: 24, up from 14 — raises", 0.8)
    assert [(row[0], row[3], row[5]) for row in body[1:]] == [(1, 2, 0.2), (2, 1, -0.3)]


def test_hostile_strings_stay_literal_text(tmp_path):
    names = [*HOSTILE_NAMES, "http://example.com", "Acme \u202egnp.exe", "<script>alert(1)</script>"]
    frame = prospects(names).assign(reason_1=f"={names[0]}")
    book = openpyxl.load_workbook(write_prospects_xlsx(frame, manifest(), tmp_path / "p.xlsx"))
    companies = [excel_text(cell.value) for cell in book["Prospects"]["C"][1:]]
    assert companies[:6] == [f"'{name}" for name in HOSTILE_NAMES]
    assert companies[6:] == ["http://example.com", "Acme [U+202E]gnp.exe", "<script>alert(1)</script>"]
    assert book["Prospects"]["M2"].value.startswith("'=")
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f" and cell.hyperlink is None, cell.coordinate
                assert not (isinstance(cell.value, str) and "\u202e" in cell.value)
    assert book["Reasons"]["C2"].value == f"'{HOSTILE_NAMES[0]}"


def test_guide_and_document_properties(workbook):
    text = "\n".join(row[0] for row in rows(workbook["How to read this"]) if row[0])
    assert "As of 2026-12-01; transactions through 2026-11-30; model key_account version 7." in text
    assert "Eligible customers: 3. Customers per tier: A: 1, B: 1, C: 1, D: 0." in text
    assert "list of 2026-11-01" in text and "Lists issued so far found 12 of 30." in text
    assert "shown as text" in text
    assert workbook.properties.title == "Key-account prospects as of 2026-12-01"
    assert workbook.custom_doc_props["As of"].value == "2026-12-01"


def test_same_input_writes_the_same_bytes(tmp_path):
    first = write_prospects_xlsx(prospects(), manifest(), tmp_path / "a.xlsx").read_bytes()
    assert write_prospects_xlsx(prospects(), manifest(), tmp_path / "b.xlsx").read_bytes() == first


def test_empty_list_writes_a_valid_workbook(tmp_path):
    frame = prospects().iloc[0:0]
    book = openpyxl.load_workbook(write_prospects_xlsx(frame, manifest(eligible=0), tmp_path / "p.xlsx"))
    assert rows(book["Prospects"])[0] == tuple(PROSPECT_HEADERS)
    assert all(value is None for row in rows(book["Prospects"])[1:] for value in row)
    assert all(value is None for row in rows(book["Reasons"])[1:] for value in row)
    assert "Eligible customers: 0." in "\n".join(row[0] for row in rows(book["How to read this"]) if row[0])


def test_missing_column_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="account_owner"):
        write_prospects_xlsx(prospects().drop(columns="account_owner"), manifest(), tmp_path / "p.xlsx")
    with pytest.raises(DataError, match="effect_2"):
        write_prospects_xlsx(prospects().drop(columns="effect_2"), manifest(), tmp_path / "p.xlsx")
    assert not (tmp_path / "p.xlsx").exists()


def test_more_rows_than_a_sheet_holds_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setattr(spreadsheet, "EXCEL_ROWS", 3)
    with pytest.raises(DataError, match="3 rows for the ProspectList table do not fit"):
        write_prospects_xlsx(prospects(), manifest(), tmp_path / "p.xlsx")
    assert not (tmp_path / "p.xlsx").exists()


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = write_prospects_xlsx(prospects(), manifest(), tmp_path / "prospects.xlsx")
    before = target.read_bytes()

    def disk_full(*args):
        raise OSError("disk full")

    monkeypatch.setattr(spreadsheet, "_write_guide", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_prospects_xlsx(prospects(["Other"]), manifest(), target)
    assert target.read_bytes() == before and [path.name for path in tmp_path.iterdir()] == ["prospects.xlsx"]


def test_twenty_thousand_rows(tmp_path):
    frame = pd.concat([prospects()] * 6667, ignore_index=True).iloc[:20_000]
    frame = frame.assign(rank=np.arange(1, 20_001), customer_id=[f"C{i:05d}" for i in range(20_000)])
    start = time.perf_counter()
    target = write_prospects_xlsx(frame, manifest(eligible=20_000), tmp_path / "prospects.xlsx")
    seconds = time.perf_counter() - start
    assert seconds < 30 and target.stat().st_size < 5_000_000
    sheet = openpyxl.load_workbook(target, read_only=True)["Prospects"]
    assert sheet.max_row == 20_001
