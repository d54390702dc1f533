"""Reading raw exports: files or globs per table, CSV options, column mapping and per-file typing.

Every problem is reported with the file it comes from, the column and up to five example rows. Nothing in
the raw folder is ever written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import CsvOptions, SourceFile
from pipeline.errors import DataError

TEXT = {
    "customers": ["customer_id", "company_name", "industry", "country", "region", "credit_rating",
                  "acquisition_channel", "account_owner"],
    "transactions": ["invoice_id", "customer_id", "product_id", "category", "country"],
    "firmographics": ["customer_id"],
}
NUMBERS = {
    "customers": ["employees", "annual_revenue", "founded_year"],
    "transactions": ["quantity", "unit_price", "amount", "days_to_pay"],
    "firmographics": ["employees", "annual_revenue"],
}
DATES = {"customers": ["first_order_date"], "transactions": ["timestamp"], "firmographics": ["valid_from"]}
REQUIRED = {
    "customers": ["customer_id"],
    "transactions": ["invoice_id", "customer_id", "timestamp"],
    "firmographics": ["customer_id", "valid_from", "employees", "annual_revenue"],
}
AWARE_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
INTEGER_AS_FLOAT = re.compile(r"^(\d+)\.0+$")
MISSING_TOKENS = ("nan", "nat", "na", "n/a", "#n/a", "null", "none")  # in number and date columns, like blanks


@dataclass(frozen=True)
class RawPart:
    """One file of a table after mapping and typing; `conversions` counts repairs made while typing."""

    table: str
    path: str
    frame: pd.DataFrame
    rows_read: int
    conversions: dict[str, int]


def expand_sources(raw_dir: Path, sources: tuple[SourceFile, ...], table: str) -> list[tuple[Path, SourceFile]]:
    """Files of a table in configured order (a glob expands to its sorted matches)."""
    files = []
    for source in sources:
        matches = sorted(raw_dir.glob(source.path)) if any(c in source.path for c in "*?[") else [
            raw_dir / source.path]
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise DataError(str(raw_dir / source.path), None,
                            f"no {table} file matches (check data.raw_dir and data.files.{table})")
        files += [(m, source) for m in matches]
    return files


def _read_csv(path: Path, csv: CsvOptions, encoding_errors: str = "strict") -> pd.DataFrame:
    return pd.read_csv(path, sep=csv.delimiter, dtype=str, keep_default_na=False, na_values=[""],
                       encoding=csv.encoding, encoding_errors=encoding_errors, engine="c")


def read_file(path: Path, csv: CsvOptions) -> pd.DataFrame:
    """Read a CSV (every column as text) or Parquet file; unreadable files become DataErrors."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        try:
            return _read_csv(path, csv)
        except UnicodeDecodeError:
            raise _encoding_error(_read_csv(path, csv, encoding_errors="replace"), path, csv) from None
    except pd.errors.EmptyDataError:
        raise DataError(str(path), None, "the file is empty (not even a header line)") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(str(path), None, f"cannot be read: {exc}") from None


def _encoding_error(frame: pd.DataFrame, path: Path, csv: CsvOptions) -> DataError:
    """The first column holding bytes that are not `csv.encoding` text (read as U+FFFD), with example rows."""
    bad = frame.apply(lambda values: values.str.contains("\ufffd", regex=False, na=False))
    problem = f"not valid {csv.encoding} text; set data.files.csv.encoding, e.g. latin-1 or cp1252"
    if not bad.to_numpy().any():
        return DataError(str(path), None, f"the header line is {problem}: {list(frame.columns)[:20]}")
    column = bad.any().idxmax()
    return DataError(str(path), column, f"{int(bad[column].sum())} value(s) are {problem}",
                     _examples(frame, bad[column], column))


def apply_mapping(frame: pd.DataFrame, mapping: dict[str, str], path: Path, csv: CsvOptions) -> pd.DataFrame:
    """Rename the file's columns to ours; a mapped name the file lacks is an error."""
    missing = [name for name in mapping if name not in frame.columns]
    if missing:
        hint = _delimiter_hint(frame, csv)
        raise DataError(str(path), missing[0], f"column mapped in data.files does not exist; the file has "
                        f"columns {list(frame.columns)[:20]}{hint}")
    return frame.rename(columns=mapping)


def _delimiter_hint(frame: pd.DataFrame, csv: CsvOptions) -> str:
    if len(frame.columns) == 1 and any(d in str(frame.columns[0]) for d in ";,\t|" if d != csv.delimiter):
        return f" (one column only: is the delimiter right? data.files.csv.delimiter is {csv.delimiter!r})"
    return ""


def _blank_as_missing(values: pd.Series, tokens: tuple[str, ...] = ()) -> pd.Series:
    """Blank text (and text equal to one of `tokens`, ignoring case) as missing."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    text = values.astype("str").str.strip()
    missing = text == ""
    if tokens:
        missing |= text.str.lower().isin(tokens)
    return values.where(values.isna() | ~missing)


def _examples(frame: pd.DataFrame, mask: pd.Series, column: str) -> pd.DataFrame:
    rows = frame.loc[mask, [column]].head(5).copy()
    rows.index = rows.index + 2  # file line number: header is line 1
    rows.index.name = "line"
    return rows


def parse_numbers(frame: pd.DataFrame, column: str, file: str, csv: CsvOptions) -> pd.Series:
    """Finite numbers from numbers or text (thousands separators and decimal mark from the CSV options);
    blanks and MISSING_TOKENS such as "NaN" are missing values."""
    values = _blank_as_missing(frame[column], MISSING_TOKENS)
    hint = ""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.astype("float64")
        bad = np.isinf(parsed)
    else:
        text = values.astype("str").str.strip()
        if csv.thousands not in ("auto", "none"):
            text = text.str.replace(csv.thousands, "", regex=False)
        if csv.decimal not in ("auto", "."):
            text = text.str.replace(csv.decimal, ".", regex=False)
        parsed = pd.to_numeric(text.where(values.notna()), errors="coerce").astype("float64")
        bad = (parsed.isna() & values.notna()) | np.isinf(parsed)
        if text[bad].str.contains(r"\d[,.]\d{3}", regex=True).any() and csv.thousands in ("auto", "none"):
            hint = " (thousands separators? set data.files.csv.thousands)"
    if bad.any():
        raise DataError(file, column, f"{int(bad.sum())} value(s) are not finite numbers{hint}",
                        _examples(frame, bad, column))
    return parsed


def _to_datetime(text: pd.Series, date_format: str | None, dayfirst: bool, utc: bool) -> tuple[pd.Series, int]:
    """Dates in `date_format`, or else ISO 8601 where they are (never day-first) and inferred per value
    (`dayfirst`) where not; returns them and how many were inferred from another format."""
    if date_format:
        return pd.to_datetime(text, errors="coerce", format=date_format, utc=utc), 0
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
    other = text[parsed.isna()]
    if len(other):
        parsed = parsed.fillna(pd.to_datetime(other, errors="coerce", format="mixed", dayfirst=dayfirst, utc=utc))
    return parsed, len(other)


def parse_dates(
    frame: pd.DataFrame, column: str, file: str, csv: CsvOptions, timezone: str
) -> tuple[pd.Series, dict[str, int]]:
    """Naive timestamps in `timezone`; returns them and how many aware values were converted and how many
    were inferred from a format other than ISO 8601."""
    values = _blank_as_missing(frame[column], MISSING_TOKENS)
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is None:
            return values.astype("datetime64[us]"), {"timezone_aware_converted": 0, "non_iso_dates_inferred": 0}
        local = values.dt.tz_convert(timezone).dt.tz_localize(None)
        return local.astype("datetime64[us]"), {"timezone_aware_converted": int(values.notna().sum()),
                                                "non_iso_dates_inferred": 0}
    text = values.astype("str").str.strip().where(values.notna())
    aware = text.str.contains(AWARE_SUFFIX, na=False)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    naive_part = text[~aware & text.notna()]
    inferred = 0
    if len(naive_part):
        naive, inferred = _to_datetime(naive_part, csv.date_format, bool(csv.dayfirst), utc=False)
        parsed.loc[naive_part.index] = naive.astype("datetime64[us]")
    if aware.any():
        converted, aware_inferred = _to_datetime(text[aware], None, bool(csv.dayfirst), utc=True)
        parsed.loc[aware] = converted.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
        inferred += aware_inferred
    bad = parsed.isna() & values.notna()
    if bad.any():
        expected = f"format {csv.date_format!r}" if csv.date_format else "a date"
        raise DataError(file, column, f"{int(bad.sum())} value(s) are not dates (expected {expected}; "
                        "set data.files.csv.date_format)", _examples(frame, bad, column))
    return parsed, {"timezone_aware_converted": int(aware.sum()), "non_iso_dates_inferred": inferred}


def normalise_ids(values: pd.Series) -> tuple[pd.Series, int]:
    """Ids as trimmed text; 12345, 12345.0 and "12345.0" all become "12345". Returns the count changed."""
    text = values.astype("str").str.strip().where(values.notna())  # a float 12345.0 reads "12345.0"
    fixed = text.str.replace(INTEGER_AS_FLOAT, r"\1", regex=True)
    changed = int(((fixed != values.astype("str")) & values.notna() & (fixed != "")).sum())  # blank: no id
    return fixed.where(fixed != "", None), changed


def type_part(frame: pd.DataFrame, table: str, file: str, csv: CsvOptions, timezone: str) -> tuple[pd.DataFrame, dict]:
    """Required columns present and every known column in its canonical dtype (input not mutated)."""
    missing = [c for c in REQUIRED[table] if c not in frame.columns]
    if missing:
        raise DataError(file, missing[0], f"required column(s) {missing} missing; found columns "
                        f"{list(frame.columns)[:20]}{_delimiter_hint(frame, csv)}")
    typed = frame.copy()
    conversions = {"ids_normalised": 0, "timezone_aware_converted": 0, "non_iso_dates_inferred": 0}
    for column in TEXT[table]:
        if column in typed.columns:
            if column == "customer_id":
                typed[column], conversions["ids_normalised"] = normalise_ids(typed[column])
            else:
                text = _blank_as_missing(typed[column])
                typed[column] = text.astype("str").str.strip().where(text.notna())
    for column in NUMBERS[table]:
        if column in typed.columns:
            typed[column] = parse_numbers(typed, column, file, csv)
    for column in DATES[table]:
        if column in typed.columns:
            typed[column], counts = parse_dates(typed, column, file, csv, timezone)
            for name, count in counts.items():
                conversions[name] += count
    return typed, conversions


def read_part(path: Path, source: SourceFile, table: str, csv: CsvOptions, timezone: str) -> RawPart:
    """Read, map and type one file of a table."""
    frame = apply_mapping(read_file(path, csv), source.columns, path, csv)
    if frame.empty:
        raise DataError(str(path), None, "has a header but no rows")
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(str(path), duplicated[0], "the column appears twice after mapping")
    typed, conversions = type_part(frame, table, str(path), csv, timezone)
    typed["_file"] = str(path)
    return RawPart(table, str(path), typed.reset_index(drop=True), len(frame), conversions)


def empty_column(dtype: str, length: int) -> pd.Series:
    """A column of missing values of a dtype, for optional columns a source lacks."""
    if dtype == "float64":
        return pd.Series(np.full(length, np.nan))
    return pd.Series([None] * length, dtype="str")
