"""Detection of how an export is written: the file's kind by its bytes, the CSV delimiter, the number format
(decimal mark, thousands separator) and the date format of a column, and size bands such as "10-49".

Pure functions (`sniff_file` reads a file's first bytes): the validate stage reads with them and `kap init` will
propose settings with them. What the values cannot decide is never guessed: `FormatError` says why, with the
values that show it and the params setting that decides.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

FileKind = Literal["parquet", "gzip", "zip", "xlsx", "xls", "pdf", "binary", "text", "empty"]
DELIMITERS = (",", ";", "\t", "|")
WHITESPACE = "whitespace"
SNIFF_BYTES = 4096

BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
MAGIC: tuple[tuple[bytes, FileKind, str], ...] = (
    (b"PAR1", "parquet", "a Parquet file"),
    (b"\x1f\x8b", "gzip", "a gzip-compressed file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls", "an old Excel workbook (.xls)"),
    (b"%PDF", "pdf", "a PDF document"),
)


class FormatError(ValueError):
    """The values cannot decide a format (or contradict the one configured): `reason` in plain words, the
    offending `values` (unique, in order of appearance) and the params `setting` that decides."""

    def __init__(self, reason: str, values: Iterable[str], setting: str):
        self.reason, self.values, self.setting = reason, tuple(values), setting
        super().__init__(f"{reason} (set data.files.csv.{setting}); e.g. {list(self.values[:5])}")


class NotDatesError(FormatError):
    """Values that are no calendar dates in any format the values could decide (`yesterday`, `31.02.2023`)."""


@dataclass(frozen=True)
class FileSniff:
    """What a file is: `kind`, the text encoding a byte-order mark fixes (None without one), and a phrase."""

    kind: FileKind
    encoding: str | None
    description: str


def sniff_bytes(head: bytes) -> FileSniff:
    """The kind of content by its first bytes ("zip" for any zip archive: `sniff_file` looks inside)."""
    if not head:
        return FileSniff("empty", None, "an empty file")
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return FileSniff("text", encoding, f"{encoding.removesuffix('-sig').upper()} text with a byte-order mark")
    for magic, kind, description in MAGIC:
        if head.startswith(magic):
            return FileSniff(kind, None, description)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return FileSniff("zip", None, "a zip archive")
    if b"\x00" in head:
        return FileSniff("binary", None, "a binary file, not text")
    return FileSniff("text", None, "text")


def sniff_file(path: Path) -> FileSniff:
    """The kind of a file by its first bytes, whatever its name; a zip archive holding xl/ is an XLSX workbook."""
    with Path(path).open("rb") as fh:
        sniff = sniff_bytes(fh.read(SNIFF_BYTES))
    if sniff.kind != "zip":
        return sniff
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        names = []
    if any(name.startswith("xl/") for name in names):
        return FileSniff("xlsx", None, "an Excel workbook (.xlsx)")
    return FileSniff("zip", None, f"a zip archive of {len(names)} file(s) {names[:5]}")


def guess_delimiter(text_sample: str) -> str:
    """The delimiter that splits every line of the sample into the same number (> 1) of fields, the most fields
    winning: one of DELIMITERS, or "whitespace" for columns aligned by spaces or tabs; "," for one column."""
    lines = text_sample.splitlines()
    if len(lines) > 1 and not text_sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # a cut-off last line
    sample = "\n".join(line for line in lines if line.strip())
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        counts = {len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row}
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = delimiter, fields
    if best_fields == 1:
        counts = {len(line.split()) for line in sample.splitlines()}
        if len(counts) == 1 and counts.pop() > 1:
            return WHITESPACE
    return best


# --- numbers ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written: the decimal mark ("." or ",") and the thousands separator (None: none)."""

    decimal: str
    thousands: str | None


CURRENCY = re.compile(r"^(?:[€$£¥]|EUR|USD|GBP|CHF)\s*|\s*(?:[€$£¥]|EUR|USD|GBP|CHF)$", re.IGNORECASE)
SPACES = re.compile(r"[\s\u00a0\u202f]")
APOSTROPHES = re.compile(r"['’]")
PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity|nan)$",
                          re.IGNORECASE)
GROUPED = {",": re.compile(r"^\d{1,3}(?:,\d{3})+"), ".": re.compile(r"^\d{1,3}(?:\.\d{3})+"),
           " ": re.compile(r"^\d{1,3}(?: \d{3})+"), "'": re.compile(r"^\d{1,3}(?:'\d{3})+")}


CURRENCY_NAMES = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY"}


def currencies(values: Iterable[str]) -> set[str]:
    """The currencies (as ISO codes) that the symbols and codes in these number texts name."""
    found = set()
    for value in values:
        for match in CURRENCY.finditer(value.strip()):
            token = match.group(0).strip().upper()
            found.add(CURRENCY_NAMES.get(token, token))
    return found


def _unsigned(text: str) -> tuple[str, str]:
    """The sign and the digits-and-separators of a number written with currency, spaces or apostrophes."""
    text = CURRENCY.sub("", text.strip()).strip()
    sign = ""
    if text[:1] in "+-":
        sign, text = text[0], text[1:].strip()
    elif text.endswith("-"):
        sign, text = "-", text[:-1].strip()
    text = CURRENCY.sub("", text).strip()  # "-€ 5" and "€ -5"
    return sign, APOSTROPHES.sub("'", SPACES.sub(" ", text))


def _evidence(digits: str) -> tuple[str | None, str | None, bool]:
    """(decimal mark, thousands separator, ambiguous) that one number shows; ambiguous: a lone "." or ","
    followed by exactly three digits (7.790: 7790 or 7.79)."""
    grouping = [s for s in (" ", "'") if s in digits]
    marks = [c for c in digits if c in ".,"]
    thousands = grouping[0] if grouping else None
    if not marks:
        return None, thousands, False
    if len(set(marks)) == 2:
        decimal = marks[-1]
        return decimal, "," if decimal == "." else ".", False
    mark = marks[0]
    if len(marks) > 1:
        return None, mark, False  # 1.234.567
    whole, _, fraction = digits.replace(" ", "").replace("'", "").partition(mark)
    if thousands or len(fraction) != 3 or whole in ("", "0") or len(whole) > 3:
        return mark, thousands, False
    return None, thousands, True


def infer_number_format(values: Iterable[str], decimal: str | None = None,
                        thousands: str | None = None) -> NumberFormat:
    """The number format of a column's text values, decided by them. `decimal` / `thousands` force a setting
    ("" for thousands: none); values that contradict a forced setting, mix formats or cannot decide (only
    numbers such as 7.790) raise FormatError naming the setting."""
    decimals: dict[str, list[str]] = {}
    separators: dict[str, list[str]] = {}
    ambiguous: list[str] = []
    for value in dict.fromkeys(v for v in values if v is not None):
        _, digits = _unsigned(str(value))
        seen_decimal, seen_thousands, undecided = _evidence(digits)
        if seen_decimal:
            decimals.setdefault(seen_decimal, []).append(value)
        if seen_thousands:
            separators.setdefault(seen_thousands, []).append(value)
        if undecided:
            ambiguous.append(value)
    if len(decimals) > 1:
        raise FormatError("numbers with a decimal point and numbers with a decimal comma in one column",
                          decimals["."][:3] + decimals[","][:3], "decimal")
    if len(separators) > 1:
        raise FormatError(f"several thousands separators {sorted(separators)} in one column",
                          [v for vs in separators.values() for v in vs[:3]], "thousands")
    seen_decimal = next(iter(decimals), None)
    seen_thousands = next(iter(separators), None)
    if seen_thousands is not None and seen_thousands == seen_decimal:
        raise FormatError(f"{seen_thousands!r} is used as decimal mark and as thousands separator",
                          decimals[seen_decimal][:3] + separators[seen_thousands][:3], "decimal")
    if decimal is not None and seen_decimal not in (None, decimal):
        raise FormatError(f"values have a decimal {seen_decimal!r}, not the configured {decimal!r}",
                          decimals[seen_decimal], "decimal")
    if decimal is not None and seen_thousands == decimal:
        raise FormatError(f"values group thousands with {decimal!r}, the configured decimal mark",
                          separators[seen_thousands], "decimal")
    if thousands is not None and seen_thousands not in (None, thousands):
        raise FormatError(f"values group thousands with {seen_thousands!r}, not the configured "
                          f"{thousands or 'none'!r}", separators[seen_thousands], "thousands")
    decided_decimal = decimal or seen_decimal or {",": ".", ".": ","}.get(seen_thousands or thousands or "")
    if ambiguous and decided_decimal is None:
        raise FormatError("every separated number has three digits after one '.' or ',': a decimal mark or a "
                          "thousands separator", ambiguous, "decimal")
    decided_decimal = decided_decimal or "."
    other = "," if decided_decimal == "." else "."
    grouped = [v for v in ambiguous if other in v]  # 7.790 with a decimal comma: 7790
    if grouped and thousands == "":
        raise FormatError(f"values group thousands with {other!r}, but data.files.csv.thousands is none",
                          grouped, "thousands")
    decided_thousands = seen_thousands if thousands is None else thousands
    if decided_thousands is None and grouped:
        decided_thousands = other
    return NumberFormat(decided_decimal, decided_thousands or None)


def to_numbers(values: pd.Series, number_format: NumberFormat) -> pd.Series:
    """Floats from text written in `number_format` (currency symbols and codes allowed); NaN where a value
    is not such a number (missing values stay NaN)."""
    def parse(value: str) -> float:
        sign, digits = _unsigned(value)
        separator = number_format.thousands
        if separator and separator in digits:
            grouped = GROUPED[separator].match(digits)
            if not grouped or ((rest := digits[grouped.end():]) and not rest.startswith(number_format.decimal)):
                return float("nan")
            digits = digits.replace(separator, "")
        digits = digits.replace(number_format.decimal, ".") if number_format.decimal != "." else digits
        if not PLAIN_NUMBER.match(digits) or "," in digits:
            return float("nan")
        return float(sign + digits)

    unique = values.dropna().astype("str").unique()
    parsed = {value: parse(value) for value in unique}
    return values.map(parsed).astype("float64")


# --- dates -----------------------------------------------------------------------------------------------------

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
DATE = re.compile(r"^(?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})"
                  r"(?:(?P<tsep>[ T])(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$")
TIME_ONLY = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?$")
ISO_FORMAT = "ISO8601"


def _valid(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year if year > 0 else 2000, month)[1]


def _time_format(time: str | None) -> str:
    if time is None:
        return ""
    return {1: "%H:%M", 2: "%H:%M:%S"}[time.count(":")] + (".%f" if "." in time else "")


def infer_date_format(values: Iterable[str], dayfirst: bool | None = None) -> str:
    """One format for a column's date texts: "ISO8601" when every value is ISO 8601, else a strftime format
    such as "%d.%m.%Y %H:%M" (the time of day may be left out where a value has none: `to_datetimes`).
    Day-first or month-first is decided by the values (`dayfirst` forces it); a column where every value fits
    both, where some fit only one order and some only the other, that mixes separators, year widths or time
    precisions, or holds values that are no dates raises FormatError."""
    texts = list(dict.fromkeys(str(v).strip() for v in values if v is not None and str(v).strip()))
    if all(ISO.match(t) for t in texts):
        return ISO_FORMAT
    times = [t for t in texts if TIME_ONLY.match(t)]
    if times:
        raise FormatError("times of day without a date", times, "date_format")
    matches = {t: DATE.match(t) for t in texts}
    shapes: dict[str, set] = {"separator": set(), "year": set(), "time": set()}
    orders: dict[str, list[str]] = {"ymd": [], "dmy": [], "mdy": [], "both": [], "none": []}
    for text, match in matches.items():
        if match is None:
            orders["none"].append(text)
            continue
        a, b, c = match["a"], match["b"], match["c"]
        shapes["separator"].add(match["sep"])
        if match["time"]:
            shapes["time"].add(_time_format(match["time"]))
        if len(a) == 4:
            shapes["year"].add("%Y")
            orders["ymd" if _valid(int(a), int(b), int(c)) else "none"].append(text)
            continue
        if len(c) not in (2, 4):
            orders["none"].append(text)
            continue
        shapes["year"].add("%Y" if len(c) == 4 else "%y")
        year = int(c) if len(c) == 4 else 2000 + int(c)
        day_first, month_first = _valid(year, int(b), int(a)), _valid(year, int(a), int(b))
        orders["both" if day_first and month_first else "dmy" if day_first else "mdy" if month_first
               else "none"].append(text)
    if orders["none"]:
        raise NotDatesError("values that are not dates", orders["none"], "date_format")
    for shape, seen in shapes.items():
        if len(seen) > 1:
            raise FormatError(f"dates written with different {shape}s {sorted(seen)} in one column", texts,
                              "date_format")
    separator, year, time = shapes["separator"].pop(), shapes["year"].pop(), next(iter(shapes["time"]), "")
    suffix = f" {time}" if time else ""
    if orders["ymd"]:
        if orders["dmy"] or orders["mdy"] or orders["both"]:
            raise FormatError("year-first and year-last dates in one column", orders["ymd"][:3] + (
                orders["dmy"] + orders["mdy"] + orders["both"])[:3], "date_format")
        return f"%Y{separator}%m{separator}%d{suffix}"
    if orders["dmy"] and orders["mdy"]:
        raise FormatError("some dates are only valid day-first and others only month-first",
                          orders["dmy"][:3] + orders["mdy"][:3], "date_format")
    if dayfirst is None:
        if not orders["dmy"] and not orders["mdy"]:
            raise FormatError("every date fits day-first and month-first (is 03/04 the 3rd of April or the 4th "
                              "of March?)", orders["both"], "dayfirst")
        dayfirst = bool(orders["dmy"])
    elif orders["mdy" if dayfirst else "dmy"]:
        order = "month-first" if dayfirst else "day-first"
        raise FormatError(f"dates valid only {order} contradict data.files.csv.dayfirst: {dayfirst}",
                          orders["mdy" if dayfirst else "dmy"], "dayfirst")
    date = f"%d{separator}%m{separator}{year}" if dayfirst else f"%m{separator}%d{separator}{year}"
    return date + suffix


def to_datetimes(values: pd.Series, date_format: str, utc: bool = False) -> pd.Series:
    """Timestamps from text in `date_format` (a value without a time of day reads as midnight); NaT where a
    value does not fit."""
    if date_format == ISO_FORMAT:
        return pd.to_datetime(values, errors="coerce", format=ISO_FORMAT, utc=utc)
    parsed = pd.to_datetime(values, errors="coerce", format=date_format, utc=utc)
    date_part = date_format.split(" ")[0]
    if date_part != date_format and parsed.isna().any():
        rest = values[parsed.isna() & values.notna()]
        parsed = parsed.fillna(pd.to_datetime(rest, errors="coerce", format=date_part, utc=utc))
    return parsed


# --- size bands ------------------------------------------------------------------------------------------------

UNITS = {"": 1.0, "k": 1e3, "tsd": 1e3, "t": 1e3, "m": 1e6, "mio": 1e6, "mn": 1e6, "million": 1e6, "millionen": 1e6,
         "b": 1e9, "bn": 1e9, "mrd": 1e9, "billion": 1e9}
_NUMBER = r"(\d+(?:[.,]\d+)?)\s*([a-z]*)\.?"
BAND_CLOSED = re.compile(rf"^{_NUMBER}\s*(?:-|–|to|bis)\s*{_NUMBER}$")
BAND_ABOVE = re.compile(rf"^(?:>=?|≥|over|more than|über|ab)\s*{_NUMBER}$|^{_NUMBER}\s*\+$")
BAND_BELOW = re.compile(rf"^(?:<=?|≤|under|less than|unter|bis)\s*{_NUMBER}$")


def _band_number(number: str, unit: str) -> float | None:
    if unit not in UNITS:
        return None
    return float(number.replace(",", ".")) * UNITS[unit]


def parse_band(text: str) -> tuple[float, float | None] | None:
    """A size band as (low, high): "10-49" -> (10, 49), "1000+" and ">1000" -> (1000, None), "<10" -> (0, 10),
    "1M-5M" and "€1-5 Mio" -> (1e6, 5e6), "10k-50k" -> (1e4, 5e4); None when the text is no band."""
    clean = CURRENCY.sub("", str(text).strip().lower().replace("€", "").replace("$", "").replace("£", "")).strip()
    clean = re.sub(r"\s+", " ", clean)
    if match := BAND_CLOSED.match(clean):
        low_number, low_unit, high_number, high_unit = match.groups()
        low = _band_number(low_number, low_unit or high_unit)
        high = _band_number(high_number, high_unit)
        if low is None or high is None or high < low:
            return None
        return low, high
    if match := BAND_ABOVE.match(clean):
        number, unit = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
        low = _band_number(number, unit)
        return None if low is None else (low, None)
    if match := BAND_BELOW.match(clean):
        high = _band_number(match[1], match[2])
        return None if high is None else (0.0, high)
    return None
