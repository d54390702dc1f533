"""The prospect list as an Excel workbook for sales ops: the ranked table, the reasons one per row, a guide.

Every text from the data is shown as text, exactly as in the CSV export: control characters made visible,
formula prefixes neutralised with a leading apostrophe, and each string written as a string, so nothing in the
file runs as a formula, opens as a link or turns into a number. The workbook has no macros.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipeline.common.errors import DataError
from pipeline.common.io import atomic_path, neutralise_formulas, safe_text_frame

PROSPECT_COLUMNS = ("rank", "customer_id", "company_name", "industry", "region", "country", "account_owner",
                    "spend_12m", "score", "tier", "previous_rank", "probability")
MANIFEST_KEYS = ("as_of", "data_through", "model_name", "model_version", "currency", "eligible_customers",
                 "previous_as_of", "tiers", "trust")
EXCEL_ROWS = 1_048_576  # rows of a worksheet, the header included
REASON_COLUMN = re.compile(r"reason_(\d+)")
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
EFFECT_NOTE = ("The reason's contribution to the score in log-odds: positive raises the customer's chance, "
               "negative lowers it; the further from 0, the stronger.")


@dataclass(frozen=True)
class _Column:
    """One column of a sheet: its header, its kind of value and its widest width."""

    header: str
    kind: str  # "text", "wrapped" (long text), "integer", "money", "percent" or "effect"
    max_width: int = 40


def _require(columns: Sequence[str], present: Sequence[str], where: str) -> None:
    missing = [column for column in columns if column not in present]
    if missing:
        raise DataError(where, missing[0], f"missing {', '.join(map(repr, missing))} needed for prospects.xlsx")


def _reason_numbers(prospects: pd.DataFrame) -> list[int]:
    numbers = sorted(int(m.group(1)) for column in prospects.columns if (m := REASON_COLUMN.fullmatch(str(column))))
    _require([f"effect_{number}" for number in numbers], list(prospects.columns), "prospects")
    return numbers


def movement(rank: int, previous_rank: Any, has_previous_run: bool) -> str:
    """Places gained ("▲12") or lost ("▼3") since the previous list, "same", "new" when the customer was not on
    it, "" when there was no previous list."""
    if not has_previous_run:
        return ""
    if pd.isna(previous_rank):
        return "new"
    change = int(previous_rank) - int(rank)
    if change > 0:
        return f"▲{change}"
    if change < 0:
        return f"▼{-change}"
    return "same"


def _prospect_table(prospects: pd.DataFrame, currency: str, has_previous_run: bool,
                    reasons: Sequence[int]) -> tuple[pd.DataFrame, list[_Column]]:
    columns = [_Column("Rank", "integer"), _Column("Customer ID", "text", 20), _Column("Company", "text"),
               _Column("Industry", "text", 30), _Column("Region", "text", 25), _Column("Country", "text", 20),
               _Column("Owner", "text", 25), _Column(f"Spend, last 12 months ({currency})", "money"),
               _Column("Score (1–99)", "integer"), _Column("Tier", "text"),
               _Column("Movement since last run", "text"), _Column("Probability", "percent")]
    columns += [_Column(f"Reason {number}", "wrapped", 60) for number in reasons]
    table = pd.DataFrame({
        "Rank": prospects["rank"], "Customer ID": prospects["customer_id"], "Company": prospects["company_name"],
        "Industry": prospects["industry"], "Region": prospects["region"], "Country": prospects["country"],
        "Owner": prospects["account_owner"], columns[7].header: prospects["spend_12m"],
        "Score (1–99)": prospects["score"], "Tier": prospects["tier"],
        "Movement since last run": [movement(rank, previous, has_previous_run)
                                    for rank, previous in zip(prospects["rank"], prospects["previous_rank"],
                                                              strict=True)],
        "Probability": prospects["probability"],
        **{f"Reason {number}": prospects[f"reason_{number}"] for number in reasons},
    })
    return table, columns


def _reason_table(prospects: pd.DataFrame, reasons: Sequence[int]) -> tuple[pd.DataFrame, list[_Column]]:
    columns = [_Column("Rank", "integer"), _Column("Customer ID", "text", 20), _Column("Company", "text"),
               _Column("Reason number", "integer"), _Column("Reason", "wrapped", 80),
               _Column("Effect (log-odds)", "effect")]
    parts = []
    for number in reasons:
        text = prospects[f"reason_{number}"]
        given = text.notna() & (text.astype("str") != "")
        parts.append(pd.DataFrame({
            "Rank": prospects.loc[given, "rank"], "Customer ID": prospects.loc[given, "customer_id"],
            "Company": prospects.loc[given, "company_name"], "Reason number": number,
            "Reason": text[given], "Effect (log-odds)": prospects.loc[given, f"effect_{number}"],
        }))
    headers = [column.header for column in columns]
    if not parts:
        return pd.DataFrame(columns=headers), columns
    long = pd.concat(parts, ignore_index=True).sort_values(["Rank", "Reason number"], kind="stable")
    return long.reset_index(drop=True)[headers], columns


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value == ""


def _width(values: pd.Series, column: _Column) -> float:
    if column.kind not in ("text", "wrapped") or values.empty:
        return max(len(column.header) + 4, 12)
    lengths = values.dropna().astype("str").str.len()
    typical = int(lengths.quantile(0.95)) if len(lengths) else 0
    return min(max(len(column.header) + 4, typical + 2), column.max_width)


def _write_table(sheet: Worksheet, name: str, frame: pd.DataFrame, columns: Sequence[_Column],
                 formats: dict[str, Format]) -> None:
    """`frame` as an Excel table starting at A1: filter buttons, frozen header, a number format per kind."""
    if len(frame) >= EXCEL_ROWS:
        raise DataError("prospects", None, f"{len(frame)} rows for the {name} table do not fit an Excel sheet "
                                           f"(at most {EXCEL_ROWS - 1}); read the CSV or Parquet list instead")
    safe = neutralise_formulas(safe_text_frame(frame))
    for index, column in enumerate(columns):
        cell_format = formats[column.kind]
        sheet.set_column(index, index, _width(safe[column.header], column), cell_format)
        for row, value in enumerate(safe[column.header].tolist(), start=1):
            if _is_missing(value):
                continue
            if column.kind in ("text", "wrapped"):
                sheet.write_string(row, index, str(value), cell_format)
            else:
                sheet.write_number(row, index, float(value), cell_format)
    sheet.add_table(0, 0, max(len(frame), 1), len(columns) - 1, {
        "name": name, "style": "Table Style Medium 2",
        "columns": [{"header": column.header} for column in columns],
    })
    sheet.freeze_panes(1, 0)


def _guide_lines(manifest: dict, reasons: Sequence[int]) -> list[tuple[str, str]]:
    """The guide as (style, text) lines: "title", "heading" or "body"."""
    tiers = ", ".join(f"{tier}: {count}" for tier, count in sorted(manifest["tiers"].items()))
    previous = (f"Movement compares with the list of {manifest['previous_as_of']}." if manifest["previous_as_of"]
                else "This is the first list, so the movement column is empty.")
    lines = [
        ("title", f"Key-account prospects as of {manifest['as_of']}"),
        ("heading", "What this list is"),
        ("body", "Customers that are not key accounts yet, ranked by the model's chance that they become one. "
                 "Rank 1 is the most promising."),
        ("body", f"As of {manifest['as_of']}; transactions through {manifest['data_through']}; "
                 f"model {manifest['model_name']} version {manifest['model_version']}."),
        ("body", f"Eligible customers: {manifest['eligible_customers']}. Customers per tier: {tiers or 'none'}."),
        ("heading", "The columns"),
        ("body", f"Spend, last 12 months: the customer's net spend in the 365 days before the as-of date, in "
                 f"{manifest['currency']}."),
        ("body", "Score (1–99): where the customer stands among all eligible customers; 99 means among the "
                 "top 1%, 50 in the middle."),
        ("body", "Tier: A is the strongest group, D the weakest."),
        ("body", "Probability: the model's calibrated chance that the customer becomes a key account."),
        ("body", f"Movement since last run: ▲12 means 12 places higher than on the previous list, ▼3 three places "
                 f"lower, same the same rank, new not on the previous list. {previous}"),
    ]
    if reasons:
        lines += [
            ("body", "Reason 1, 2, ...: the facts that moved the customer's score most, in plain words, strongest "
                     "first, each compared with what is typical among eligible customers. Only the top-ranked "
                     "customers carry reasons."),
            ("body", f"The Reasons sheet lists them one per row. Effect: {EFFECT_NOTE}"),
        ]
    lines += [("heading", "How far to trust it")] + [("body", str(sentence)) for sentence in manifest["trust"]]
    lines += [
        ("heading", "About this file"),
        ("body", "This file is generated by the scoring run and replaced by the next one: changes made here are "
                 "lost. Keep notes elsewhere."),
        ("body", "Every text from the data is shown as text: a value starting with =, +, -, @, a tab or a line "
                 "break is prefixed with an apostrophe so it never runs as a formula, web addresses are not "
                 "links, and hidden characters that reverse the reading direction are shown as codes such as "
                 "[U+202E]."),
    ]
    return lines


def _write_guide(sheet: Worksheet, lines: Sequence[tuple[str, str]], formats: dict[str, Format]) -> None:
    sheet.set_column(0, 0, 110)
    for row, (style, text) in enumerate(lines):
        sheet.write_string(row, 0, text, formats[style])


def write_prospects_xlsx(prospects: pd.DataFrame, manifest: dict, target: Path) -> Path:
    """Write the prospect list (`prospects.parquet` rows, ranked) and its run manifest (`run.json`) as an Excel
    workbook at `target`, atomically: sheets "Prospects", "Reasons" and "How to read this"."""
    _require(PROSPECT_COLUMNS, list(prospects.columns), "prospects")
    _require(MANIFEST_KEYS, list(manifest), "run.json")
    reasons = _reason_numbers(prospects)
    ordered = prospects.sort_values("rank", kind="stable")
    prospect_table, prospect_columns = _prospect_table(ordered, str(manifest["currency"]),
                                                       bool(manifest["previous_as_of"]), reasons)
    reason_table, reason_columns = _reason_table(ordered, reasons)
    title = f"Key-account prospects as of {manifest['as_of']}"
    with atomic_path(target) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), WORKBOOK_OPTIONS)
        workbook.set_properties({
            "title": title, "subject": f"model {manifest['model_name']} version {manifest['model_version']}",
            "comments": "Generated by the scoring run; replaced by the next one.",
            "created": datetime.fromisoformat(str(manifest["as_of"])),
        })
        workbook.set_custom_property("As of", str(manifest["as_of"]))
        workbook.set_custom_property("Data through", str(manifest["data_through"]))
        formats = {
            "text": workbook.add_format({"valign": "top"}),
            "wrapped": workbook.add_format({"valign": "top", "text_wrap": True}),
            "integer": workbook.add_format({"valign": "top", "num_format": "0"}),
            "money": workbook.add_format({"valign": "top", "num_format": "#,##0"}),
            "percent": workbook.add_format({"valign": "top", "num_format": "0.0%"}),
            "effect": workbook.add_format({"valign": "top", "num_format": "+0.00;-0.00;0.00"}),
            "title": workbook.add_format({"bold": True, "font_size": 14}),
            "heading": workbook.add_format({"bold": True}),
            "body": workbook.add_format({"text_wrap": True, "valign": "top"}),
        }
        _write_table(workbook.add_worksheet("Prospects"), "ProspectList", prospect_table, prospect_columns, formats)
        reason_sheet = workbook.add_worksheet("Reasons")
        _write_table(reason_sheet, "ReasonList", reason_table, reason_columns, formats)
        reason_sheet.write_comment(0, len(reason_columns) - 1, EFFECT_NOTE)
        _write_guide(workbook.add_worksheet("How to read this"), _guide_lines(manifest, reasons), formats)
        workbook.close()
    return Path(target)
