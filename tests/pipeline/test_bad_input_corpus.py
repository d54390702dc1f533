"""The bad-input corpus driven by its manifest (tests/data/bad_input/cases.yaml, table in its README): every case
is refused (exit code 2, the message names the file, the column and the deciding setting), counted in
quality.json, or read to known values; none prints a traceback and none drops rows without counting them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.common.config import load_params

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_input"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
OUTCOMES = ("refused", "counted", "read")
KEYS = {"transactions": "invoice_id", "customers": "customer_id"}
runner = CliRunner()


def run_case(project, case: dict):
    """Copy the case's files to raw/ and run `kap validate`; returns the CLI result and the loaded params."""
    raw = Path("raw")
    raw.mkdir(exist_ok=True)
    sources = {}
    for table in KEYS:
        sources[table] = [{"path": e} if isinstance(e, str) else e for e in case.get(table, [])]
        for source in sources[table]:
            shutil.copy(CORPUS / source["path"], raw / source["path"])
    params = project(data={"source": "files", "raw_dir": str(raw),
                           "files": {**sources, **case.get("settings", {})}})
    return runner.invoke(app, ["validate", "--params", str(params)]), load_params(params)


def quality_value(report: dict, dotted: str):
    value = report
    for key in dotted.split("."):
        value = value[key]
    return value


def unaccounted_rows(report: dict) -> dict[str, int]:
    """Rows read but neither kept nor counted by a named rule, per table (repeated customer rows merge into one
    customer; only conflicting repeats are counted, so a case declares the repeats it has)."""
    read, kept = report["rows_read"], report["rows_kept"]
    headers = {table: sum(f["repeated_headers_dropped"] for f in report["files"] if f["table"] == table)
               for table in KEYS}
    return {
        "transactions": read["transactions"] - headers["transactions"]
        - sum(report["transaction_lines_dropped"].values()) - kept["transactions"],
        "customers": read["customers"] - headers["customers"] + report["repairs"]["unknown_customers_added"]
        - report["repairs"]["customer_rows_without_id_dropped"] - kept["customers"],
    }


def as_expected(value):
    return None if pd.isna(value) else value


def check_read(validated_dir: Path, expected: dict) -> None:
    tables = {table: pd.read_parquet(validated_dir / f"{table}.parquet") for table in KEYS}
    for item, values in expected.items():
        if item == "rows":
            assert {table: len(tables[table]) for table in values} == values
        elif item == "spend":
            spend = tables["transactions"].groupby("customer_id")["amount"].sum().round(6).to_dict()
            assert spend == values
        elif item == "lengths":
            for target, lengths in values.items():
                table, column = target.split(".")
                column_values = tables[table].set_index(KEYS[table])[column]
                assert {key: len(column_values[key]) for key in lengths} == lengths
        else:
            table, column = item.split(".")
            column_values = tables[table].set_index(KEYS[table])[column]
            if column == "timestamp":
                values = {key: pd.Timestamp(value) for key, value in values.items()}
            assert {key: as_expected(column_values[key]) for key in values} == values


def check_case(project, case: dict) -> None:
    result, params = run_case(project, case)
    assert "Traceback" not in result.output + result.stderr
    if "refused" in case:
        assert result.exit_code == 2, result.output
        for fragment in case["refused"]:
            assert str(fragment) in result.stderr, result.stderr
        assert not params.data.validated_dir.exists()
        return
    assert result.exit_code == 0, result.stderr
    report = json.loads((params.data.quality_dir / "quality.json").read_text(encoding="utf-8"))
    assert unaccounted_rows(report) == {"transactions": 0, "customers": case.get("repeated_customer_rows", 0)}
    for dotted, count in case.get("counted", {}).items():
        assert quality_value(report, dotted) == count, dotted
    check_read(params.data.validated_dir, case.get("read", {}))


def case_param(case: dict):
    marks = [pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [case_param(case) for case in CASES])
def test_case(project, case):
    check_case(project, case)


def test_every_case_declares_an_outcome_and_none_is_silent(project, tmp_path):
    """Each case names its outcome and its files, ids are unique, and outside the known product bugs each one
    ends in exit 0 or 2 without a traceback, matching what it declares."""
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 80
    corpus_files = {path.name for path in CORPUS.iterdir()} - {"README.md", "cases.yaml"}
    used = {e if isinstance(e, str) else e["path"] for case in CASES for table in KEYS for e in case.get(table, [])}
    assert used == corpus_files  # every corpus file belongs to a case and every case's files exist
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for case in CASES:
        assert any(outcome in case for outcome in OUTCOMES), case["id"]
        assert not ("refused" in case and set(case) & {"counted", "read"}), case["id"]
        assert f"`{case['id']}`" in readme, case["id"]
    for case in CASES:
        if "xfail" in case:
            continue
        for leftover in tmp_path.iterdir():  # each case starts from an empty project
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        result, _ = run_case(project, case)
        assert "Traceback" not in result.output + result.stderr, case["id"]
        assert result.exit_code == (2 if "refused" in case else 0), (case["id"], result.stderr)
