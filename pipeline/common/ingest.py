"""Reading raw exports: files or globs per table, the file's kind by its bytes (CSV, gzip, UTF-16, XLSX,
Parquet), column mapping and per-file typing with number and date formats decided per column (pipeline/common/sniff.py).

Every problem is reported with the file it comes from, the column, up to five example rows and the setting
that decides. Nothing in the raw folder is ever written.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.tables import Customers, Firmographics, TransactionExport, column_roles
from pipeline.common.config import CsvOptions, SourceFile
from pipeline.common.errors import DataError
from pipeline.common.sniff import (
    CURRENCY,
    ISO,
    SNIFF_BYTES,
    WHITESPACE,
    FormatError,
    NotDatesError,
    currencies,
    guess_delimiter,
    infer_date_format,
    infer_number_format,
    parse_band,
    sniff_bytes,
    sniff_file,
    to_datetimes,
    to_numbers,
)

# How each table's exports are read (features/tables.py): a transactions export may carry customer attributes.
EXPORT_MODELS = {"customers": Customers, "transactions": TransactionExport, "firmographics": Firmographics}
ROLES = {table: column_roles(model) for table, model in EXPORT_MODELS.items()}
AWARE_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
INTEGER_AS_FLOAT = re.compile(r"^(\d+)\.0+$")
MISSING_TOKENS = ("nan", "nat", "na", "n/a", "#n/a", "null", "none", "-")  # in ids, numbers and dates, like blanks
MAX_DAYS_TO_PAY = 3650  # a longer payment term is a typing error; the value is blanked (counted)
REFUSED_KINDS = {
    "zip": "unpack it and name the export inside in data.files",
    "xls": "save it as .xlsx or CSV and name that file in data.files",
    "pdf": "a report, not a data export: export the table as CSV, XLSX or Parquet",
    "binary": "export it as CSV, XLSX or Parquet (UTF-16 text needs its byte-order mark)",
}


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


def _read_csv(source: Path | io.BytesIO, csv: CsvOptions, encoding: str,
              encoding_errors: str = "strict") -> pd.DataFrame:
    """Every line as text, the header too (pandas would rename a repeated name to amount.1)."""
    if isinstance(source, io.BytesIO):
        source.seek(0)
    sep = r"\s+" if csv.delimiter == WHITESPACE else csv.delimiter
    return pd.read_csv(source, sep=sep, header=None, dtype=str, keep_default_na=False, na_values=[""],
                       encoding=encoding, encoding_errors=encoding_errors, engine="c")


def _with_header(rows: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The first row as column names (a blank one named by its position); a name given twice is an error."""
    if rows.empty:
        raise DataError(str(path), None, "the file is empty (not even a header line)")
    names = [str(name).strip() if pd.notna(name) else f"Unnamed: {i}" for i, name in enumerate(rows.iloc[0])]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(str(path), repeated[0], f"the header names column(s) {repeated} more than once (found "
                        f"{names[:20]}); rename them in the export or drop one")
    frame = rows.iloc[1:].reset_index(drop=True)
    frame.columns = names
    return frame


def _read_text(source: Path | io.BytesIO, path: Path, csv: CsvOptions, encoding: str) -> pd.DataFrame:
    try:
        return _with_header(_read_csv(source, csv, encoding), path)
    except pd.errors.ParserError as exc:
        raise DataError(str(path), None, f"cannot be read: {exc}{_sniffed_delimiter_hint(source, csv, encoding)}"
                        ) from None
    except UnicodeDecodeError:
        frame = _with_header(_read_csv(source, csv, encoding, encoding_errors="replace"), path)
        raise _encoding_error(frame, path, encoding) from None


def _sniffed_delimiter_hint(source: Path | io.BytesIO, csv: CsvOptions, encoding: str) -> str:
    """A hint naming the delimiter that splits the first lines evenly when it is not the configured one."""
    if isinstance(source, io.BytesIO):
        head = source.getvalue()[:SNIFF_BYTES * 16]
    else:
        with source.open("rb") as fh:
            head = fh.read(SNIFF_BYTES * 16)
    guessed = guess_delimiter(head.decode(encoding, errors="replace"))
    if guessed == csv.delimiter:
        return ""
    return f" (the lines split evenly on {guessed!r}: set data.files.csv.delimiter, now {csv.delimiter!r})"


def _workbook_rows(path: Path) -> pd.DataFrame:
    """The rows of every non-empty sheet, one after the other. Sheets with the same header are one table (their
    header rows after the first are repeated headers, dropped and counted); different headers are refused."""
    sheets = {name: rows for name, rows in pd.read_excel(path, sheet_name=None, header=None, dtype=str,
                                                          keep_default_na=False, na_values=[""]).items()
              if not rows.dropna(how="all").empty}
    if not sheets:
        raise DataError(str(path), None, "the workbook has no rows")
    headers = {name: tuple(rows.dropna(how="all").iloc[0].fillna("")) for name, rows in sheets.items()}
    if len(set(headers.values())) > 1:
        raise DataError(str(path), None, f"its sheets {list(sheets)} have different header rows: save each sheet "
                        "as its own file and name the files in data.files")
    return pd.concat([rows.dropna(how="all") for rows in sheets.values()], ignore_index=True)


def read_file(path: Path, csv: CsvOptions) -> pd.DataFrame:
    """Read a file by what its bytes are: CSV text (every column as text; a byte-order mark sets the encoding),
    gzip-compressed CSV or Parquet, an XLSX workbook's first sheet, or Parquet; other kinds and unreadable
    files become DataErrors saying what the file is and what to do."""
    sniff = sniff_file(path)
    try:
        if sniff.kind == "empty":
            raise DataError(str(path), None, "the file is empty (not even a header line)")
        if sniff.kind in REFUSED_KINDS:
            raise DataError(str(path), None, f"is {sniff.description}: {REFUSED_KINDS[sniff.kind]}")
        if sniff.kind == "parquet":
            return pd.read_parquet(path)
        if sniff.kind == "xlsx":
            return _with_header(_workbook_rows(path), path)
        if sniff.kind == "gzip":
            with gzip.open(path, "rb") as fh:
                content = io.BytesIO(fh.read())
            inner = sniff_bytes(content.getvalue()[:SNIFF_BYTES])
            if inner.kind == "parquet":
                return pd.read_parquet(content)
            if inner.kind != "text":
                raise DataError(str(path), None, f"is gzip-compressed {inner.description}: export CSV or Parquet")
            return _read_text(content, path, csv, inner.encoding or csv.encoding)
        return _read_text(path, path, csv, sniff.encoding or csv.encoding)
    except pd.errors.EmptyDataError:
        raise DataError(str(path), None, "the file is empty (not even a header line)") from None
    except (pd.errors.ParserError, ValueError, OSError, EOFError, gzip.BadGzipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(str(path), None, f"cannot be read: {exc}") from None


def _encoding_error(frame: pd.DataFrame, path: Path, encoding: str) -> DataError:
    """The first column holding bytes that are not `encoding` text (read as U+FFFD), with example rows."""
    bad = frame.apply(lambda values: values.str.contains("\ufffd", regex=False, na=False))
    problem = f"not valid {encoding} text; set data.files.csv.encoding, e.g. latin-1 or cp1252"
    if not bad.to_numpy().any():
        return DataError(str(path), None, f"the header line is {problem}: {list(frame.columns)[:20]}")
    column = bad.any().idxmax()
    return DataError(str(path), column, f"{int(bad[column].sum())} value(s) are {problem}",
                     _examples(frame, bad[column], column))


def apply_mapping(frame: pd.DataFrame, mapping: dict[str, str | list[str]], path: Path,
                  csv: CsvOptions) -> pd.DataFrame:
    """The file's columns under our names; a column mapped to a list feeds each of them (Warengruppe: [category,
    product_id]); a mapped name the file lacks is an error."""
    missing = [name for name in mapping if name not in frame.columns]
    if missing:
        hint = _delimiter_hint(frame, csv)
        raise DataError(str(path), missing[0], f"column mapped in data.files does not exist; the file has "
                        f"columns {list(frame.columns)[:20]}{hint}")
    columns, names = [], []
    for name in frame.columns:
        targets = mapping.get(name, name)
        for target in [targets] if isinstance(targets, str) else targets:
            columns.append(frame[name])
            names.append(target)
    mapped = pd.concat(columns, axis=1, ignore_index=True) if columns else frame.iloc[:, :0]
    mapped.columns = names
    return mapped


def _delimiter_hint(frame: pd.DataFrame, csv: CsvOptions) -> str:
    if len(frame.columns) == 1 and any(d in str(frame.columns[0]) for d in ";,\t| " if d != csv.delimiter):
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


def _format_error(frame: pd.DataFrame, column: str, file: str, text: pd.Series, error: FormatError) -> DataError:
    shown = text.isin(error.values)
    return DataError(file, column, f"{error.reason} ({int(shown.sum())} value(s)); set data.files.csv."
                     f"{error.setting}", _examples(frame, shown, column))


def parse_numbers(frame: pd.DataFrame, column: str, file: str, csv: CsvOptions) -> pd.Series:
    """Finite numbers from numbers or text; the decimal mark and thousands separator are the CSV options or,
    when auto, decided by the column's values (pipeline/common/sniff.py). Blanks and MISSING_TOKENS such as "NaN"
    are missing values."""
    values = _blank_as_missing(frame[column], MISSING_TOKENS)
    hint = ""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        parsed = values.astype("float64")
        bad = np.isinf(parsed)
    else:
        text = values.astype("str").str.strip().where(values.notna())
        named = currencies(text.dropna().unique())
        if len(named) > 1:
            mixed = text.str.contains(CURRENCY, na=False)
            raise DataError(file, column, f"amounts in several currencies ({', '.join(sorted(named))}) cannot be "
                            "added up: export one currency (data.files.currency names it)",
                            _examples(frame, mixed, column))
        decimal = None if csv.decimal == "auto" else csv.decimal
        thousands = {"auto": None, "none": ""}.get(csv.thousands, csv.thousands)
        try:
            number_format = infer_number_format(text.dropna().unique(), decimal=decimal, thousands=thousands)
        except FormatError as error:
            raise _format_error(frame, column, file, text, error) from None
        parsed = to_numbers(text, number_format)
        bad = (parsed.isna() & values.notna()) | np.isinf(parsed)
        if number_format.decimal == "." and text[bad].str.contains(r"\d,\d", regex=True).any():
            hint = " (a decimal comma? set data.files.csv.decimal)"
    if bad.any():
        raise DataError(file, column, f"{int(bad.sum())} value(s) are not finite numbers{hint}",
                        _examples(frame, bad, column))
    return parsed


def parse_bands(values: pd.Series, band_value: str) -> pd.Series:
    """Size bands ("10-49", "1000+", "€1-5 Mio") as numbers: a closed band's midpoint or lower bound
    (`band_value`), an open band's bound; NaN where a value is not a band (numbers are left to parse_numbers)."""
    if pd.api.types.is_numeric_dtype(values):
        return pd.Series(np.nan, index=values.index)
    text = values.astype("str").str.strip().where(values.notna())
    numbers = {}
    for value in text.dropna().unique():
        if (band := parse_band(value)) is not None:
            low, high = band
            numbers[value] = low if high is None or band_value == "lower" else (low + high) / 2
    return text.map(numbers).astype("float64")


def parse_dates(
    frame: pd.DataFrame, column: str, file: str, csv: CsvOptions, timezone: str
) -> tuple[pd.Series, dict[str, int]]:
    """Naive timestamps in `timezone`. ISO 8601 values are read as such; the others in data.files.csv.date_format
    or else in the one format their values decide (day-first or month-first never guessed: pipeline/common/sniff.py).
    Returns them and how many aware values were converted and how many were read in a non-ISO format."""
    values = _blank_as_missing(frame[column], MISSING_TOKENS)
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is None:
            return values.astype("datetime64[us]"), {"timezone_aware_converted": 0, "non_iso_dates_inferred": 0}
        local = values.dt.tz_convert(timezone).dt.tz_localize(None)
        return local.astype("datetime64[us]"), {"timezone_aware_converted": int(values.notna().sum()),
                                                "non_iso_dates_inferred": 0}
    text = values.astype("str").str.strip().where(values.notna())
    aware = text.str.contains(AWARE_SUFFIX, na=False)
    iso = text.str.match(ISO, na=False)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    naive_part = text[~aware & text.notna()]
    other = naive_part[~iso] if not csv.date_format else naive_part
    if len(other):
        try:
            date_format = csv.date_format or infer_date_format(other.unique(), csv.dayfirst)
        except NotDatesError as error:
            bad = text.isin(error.values)
            raise DataError(file, column, f"{int(bad.sum())} value(s) are not dates (expected a date; set "
                            "data.files.csv.date_format)", _examples(frame, bad, column)) from None
        except FormatError as error:
            raise _format_error(frame, column, file, text, error) from None
        parsed.loc[other.index] = to_datetimes(other, date_format).astype("datetime64[us]")
    iso_part = naive_part.drop(other.index)
    if len(iso_part):
        parsed.loc[iso_part.index] = to_datetimes(iso_part, "ISO8601").astype("datetime64[us]")
    if aware.any():
        converted = to_datetimes(text[aware], "ISO8601", utc=True)
        parsed.loc[aware] = converted.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
    bad = parsed.isna() & values.notna()
    if bad.any():
        expected = f"format {csv.date_format!r}" if csv.date_format else "a date"
        raise DataError(file, column, f"{int(bad.sum())} value(s) are not dates (expected {expected}; "
                        "set data.files.csv.date_format)", _examples(frame, bad, column))
    return parsed, {"timezone_aware_converted": int(aware.sum()), "non_iso_dates_inferred": len(other)}


def normalise_ids(values: pd.Series) -> tuple[pd.Series, int]:
    """Ids as trimmed text; 12345, 12345.0 and "12345.0" all become "12345"; blanks and MISSING_TOKENS
    ("NULL", "N/A", "-") are no id. Returns the ids and the count changed."""
    text = _blank_as_missing(values, MISSING_TOKENS)
    text = text.astype("str").str.strip().where(text.notna())  # a float 12345.0 reads "12345.0"
    fixed = text.str.replace(INTEGER_AS_FLOAT, r"\1", regex=True)
    changed = int(((fixed != values.astype("str")) & fixed.notna()).sum())
    return fixed, changed


def _drop_repeated_headers(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Lines that repeat the header (exports concatenated with their headers)."""
    if not all(isinstance(c, str) for c in frame.columns) or frame.empty:
        return frame, 0
    header = pd.Series(list(frame.columns), index=frame.columns)
    text = frame.astype("str").apply(lambda column: column.str.strip())
    repeated = text.eq(header, axis=1).all(axis=1)
    return frame.loc[~repeated], int(repeated.sum())


def type_part(frame: pd.DataFrame, table: str, file: str, csv: CsvOptions, timezone: str, *,
              band_value: str = "midpoint", derive_invoice_id: bool = False) -> tuple[pd.DataFrame, dict]:
    """Required columns present and every known column in its canonical dtype (input not mutated). Size bands
    become numbers (`band_value`); with `derive_invoice_id`, transactions without invoice_id get one per
    customer and day."""
    typed = frame.copy()
    derive = table == "transactions" and "invoice_id" not in typed.columns and derive_invoice_id
    roles = ROLES[table]
    missing = [c for c in roles.in_every_export if c not in typed.columns and not (derive and c == "invoice_id")]
    if missing:
        hint = _delimiter_hint(frame, csv)
        if missing == ["invoice_id"]:
            hint += (" (an export without invoice numbers: set data.files.derive_invoice_id: true for one invoice "
                     "per customer and day)")
        raise DataError(file, missing[0], f"required column(s) {missing} missing; found columns "
                        f"{list(frame.columns)[:20]}{hint}")
    conversions = {"ids_normalised": 0, "timezone_aware_converted": 0, "non_iso_dates_inferred": 0,
                   "bands_converted": 0, "invoice_ids_derived": 0}
    for column in roles.text:
        if column in typed.columns:
            if column in roles.ids:
                typed[column], changed = normalise_ids(typed[column])
                if column == "customer_id":
                    conversions["ids_normalised"] = changed
            else:
                text = _blank_as_missing(typed[column])
                typed[column] = text.astype("str").str.strip().where(text.notna())
    for column in roles.numbers:
        if column in typed.columns:
            bands = parse_bands(typed[column], band_value) if column in roles.bands else None
            if bands is not None and bands.notna().any():
                conversions["bands_converted"] += int(bands.notna().sum())
                # the bands' own digits ("10-49") must not decide the column's decimal mark
                typed[column] = typed[column].where(bands.isna(), None)
                typed[column] = bands.fillna(parse_numbers(typed, column, file, csv))
            else:
                typed[column] = parse_numbers(typed, column, file, csv)
    for column in roles.dates:
        if column in typed.columns:
            typed[column], counts = parse_dates(typed, column, file, csv, timezone)
            for name, count in counts.items():
                conversions[name] += count
    if derive:
        day = typed["timestamp"].dt.strftime("%Y-%m-%d")
        typed["invoice_id"] = (typed["customer_id"] + "/" + day).where(typed["customer_id"].notna())
        conversions["invoice_ids_derived"] = int(typed["invoice_id"].notna().sum())
    return typed, conversions


def read_part(path: Path, source: SourceFile, table: str, csv: CsvOptions, timezone: str, *,
              band_value: str = "midpoint", derive_invoice_id: bool = False) -> RawPart:
    """Read, map and type one file of a table; lines repeating the header are dropped (counted)."""
    frame, repeated = _drop_repeated_headers(read_file(path, csv))
    frame = apply_mapping(frame, source.columns, path, csv)
    if frame.empty:
        raise DataError(str(path), None, "has a header but no rows")
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(str(path), duplicated[0], "the column appears twice after mapping")
    typed, conversions = type_part(frame, table, str(path), csv, timezone, band_value=band_value,
                                   derive_invoice_id=derive_invoice_id)
    typed["_file"] = str(path)
    conversions["repeated_headers_dropped"] = repeated
    return RawPart(table, str(path), typed.reset_index(drop=True), len(frame) + repeated, conversions)


def empty_column(dtype: str, length: int) -> pd.Series:
    """A column of missing values of a dtype, for optional columns a source lacks."""
    if dtype == "float64":
        return pd.Series(np.full(length, np.nan))
    return pd.Series([None] * length, dtype="str")
