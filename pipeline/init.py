"""`kap init`: a starter profile from a company's exports, so that a first run needs no hand-written YAML.

What it decides, and from what:

- the kind of each file and its text encoding from its bytes, the CSV delimiter from a sample of its text, the
  decimal mark and thousands separator from the values of the number columns and the date format from the
  values of each date column (pipeline.common.sniff). A format the values leave open is not guessed: it is refused
  with the pipeline's own message, naming the setting, unless the user decides it (--dayfirst / --monthfirst,
  --decimal, --thousands);
- the column mapping from the header names (HEADER_NAMES: common English and German names, compared without
  case, spaces, underscores or punctuation, umlauts spelled out); a column that matches nothing is left out and
  listed; `--map THEIRS=OURS` decides a column by hand (`THEIRS=` leaves it out);
- which file holds which table from its mapped columns: transactions have a date and an amount (or a quantity
  and a unit price), customers have a customer id and no transaction date; transactions without an invoice
  column get `data.files.derive_invoice_id: true`;
- feature families the data cannot feed are left out: categories and expansion without a category column,
  products without a product id, payment without days to pay;
- windows, horizon and backtest from the length of the cleaned transaction history (`plan_for_history`).

Sizing rule. Let L be the whole calendar months of history (from the first month start on or after the first
transaction to the last month start on or before the day after the last one) and W the window:
labels.horizon_months = labels.active_months = labels.key_account.trailing_months. The first cutoff lies W
months after the start (a full trailing window), the last labelled one W months before the end (a full outcome
window); the earliest of evaluate.backtest_folds (F) backtest folds, evaluate.backtest_every_months (E) apart,
needs its validation cutoff W months before its test cutoff and a training cutoff split.validation_gap_months
(G) before that. So a plan needs L >= 3W + (F - 1)E + G. The plan is the first of (W, E) = (12, 3), (9, 2),
(6, 1) that fits with G of at least MIN_GAP_MONTHS (3); G is then as long as the history allows, up to W (the
default, left out of the profile). With F = 4: 4 years and more give 12 and 3 (G 3 at 48 months, W from 57
on); 3 to 4 years 9 and 2; 2 to 3 years 6 and 1 (24 months: G 3, as configs/online_retail_ii.yaml). A shorter
history is refused, saying how many months are needed.

The profile `extends:` the project's params.yaml and holds only the keys whose values differ from it. Paths
in it are written relative to the profile's folder.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
import tempfile
import textwrap
import typing
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from features.catalogue import feature_families
from pipeline.common.config import CsvOptions, DataConfig, Params, load_params
from pipeline.common.errors import ConfigError, DataError, UserInputError
from pipeline.common.ingest import MISSING_TOKENS, ROLES, read_file
from pipeline.common.sniff import (
    SNIFF_BYTES,
    FormatError,
    NumberFormat,
    guess_delimiter,
    infer_date_format,
    infer_number_format,
    parse_band,
    sniff_bytes,
    sniff_file,
)
from pipeline.common.validation import read_sources, validate_tables

TABLES = ("transactions", "customers")
CANONICAL = {table: [*ROLES[table].text, *ROLES[table].numbers, *ROLES[table].dates] for table in TABLES}

# Header names of each of our columns (besides the column's own name), as `normalise_header` spells them.
# A name listed under columns of both tables (revenue) means the column of the table the file holds.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "invoice_id": ("invoice", "invoiceno", "invoicenr", "invoicenumber", "invoiceid", "belegnummer", "belegnr",
                   "beleg", "rechnungsnummer", "rechnungsnr", "rechnungnr", "rechnung", "order", "orderno",
                   "ordernr", "ordernumber", "orderid", "auftragsnummer", "auftragsnr", "bestellnummer"),
    "customer_id": ("customer", "customerno", "customernr", "customernumber", "customerid", "kunde", "kundennummer",
                    "kundennr", "kundenid", "debitor", "debitorennummer", "debitorennr", "debitornummer",
                    "clientid", "accountid"),
    "timestamp": ("date", "invoicedate", "orderdate", "transactiondate", "datetime", "time", "datum",
                  "rechnungsdatum", "belegdatum", "bestelldatum", "auftragsdatum", "buchungsdatum"),
    "amount": ("amount", "netamount", "revenue", "sales", "linetotal", "total", "value", "betrag", "nettobetrag",
               "umsatz", "nettoumsatz", "wert"),
    "quantity": ("quantity", "qty", "units", "menge", "anzahl", "stueck", "stueckzahl"),
    "unit_price": ("price", "unitprice", "einzelpreis", "preis", "stueckpreis"),
    "product_id": ("product", "productid", "productcode", "productno", "stockcode", "sku", "item", "itemid",
                   "itemno", "artikel", "artikelnummer", "artikelnr", "material", "materialnummer"),
    "category": ("category", "productcategory", "productgroup", "warengruppe", "kategorie", "produktgruppe",
                 "artikelgruppe"),
    "country": ("country", "countrycode", "land"),
    "region": ("region", "salesregion", "gebiet", "vertriebsgebiet"),
    "industry": ("industry", "sector", "branche", "sektor"),
    "employees": ("employees", "numberofemployees", "employeecount", "headcount", "mitarbeiter",
                  "mitarbeiteranzahl", "anzahlmitarbeiter", "beschaeftigte"),
    "annual_revenue": ("annualrevenue", "revenueband", "revenue", "turnover", "jahresumsatz", "umsatzklasse",
                       "umsatz"),
    "company_name": ("company", "companyname", "customername", "name", "firma", "firmenname", "kundenname",
                     "unternehmen"),
    "account_owner": ("accountowner", "accountmanager", "owner", "salesrep", "betreuer", "kundenbetreuer",
                      "vertriebsmitarbeiter"),
    "days_to_pay": ("daystopay", "paymentdays", "zahlungsziel", "zahlungsdauer"),
    "founded_year": ("founded", "yearfounded", "foundingyear", "gruendungsjahr"),
    "credit_rating": ("creditrating", "rating", "creditscore", "bonitaet"),
    "acquisition_channel": ("acquisitionchannel", "channel", "kanal", "vertriebskanal", "akquisekanal"),
    "first_order_date": ("firstorderdate", "firstorder", "customersince", "kundeseit", "erstbestellung"),
}
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

WINDOW_PLANS = ((12, 3), (9, 2), (6, 1))  # (window months, backtest_every_months), longest first
MIN_GAP_MONTHS = 3  # the shortest gap between training and validation cutoffs a plan may have
FAMILY_COLUMNS = {"categories": "category", "expansion": "category", "products": "product_id",
                  "payment": "days_to_pay"}  # feature families fed only by a transaction column


def normalise_header(name: str) -> str:
    """A header name without case, accents, spaces, underscores or punctuation; umlauts spelled out
    ("Kunden-Nr." -> "kundennr", "Größe" -> "groesse")."""
    text = unicodedata.normalize("NFKD", str(name).lower().translate(UMLAUTS))
    return re.sub(r"[^a-z0-9]", "", text.encode("ascii", "ignore").decode())


def match_column(header: str, table: str) -> str | None:
    """Our column of `table` that a file's header names, or None."""
    key = normalise_header(header)
    for column in CANONICAL[table]:
        if key == normalise_header(column) or key in HEADER_NAMES.get(column, ()):
            return column
    return None


@dataclass(frozen=True)
class ColumnProposal:
    """A file's columns mapped to ours (`mapping`: theirs -> ours) and the ones left out (`unmatched`)."""

    mapping: dict[str, str]
    unmatched: tuple[str, ...]


def propose_mapping(headers: list[str], table: str, file: str, overrides: dict[str, str | None]) -> ColumnProposal:
    """The mapping of a file's headers to our columns of `table`; `overrides` (theirs -> ours, or None to
    leave a column out) win over the header names. Two columns naming one of ours are refused."""
    mapping, unmatched = {}, []
    for header in headers:
        ours = overrides[header] if header in overrides else match_column(header, table)
        if ours is None:
            unmatched.append(header)
            continue
        if ours not in CANONICAL[table]:
            raise ConfigError(f"--map {header}={ours}: {ours!r} is not a {table} column (known: "
                              f"{', '.join(CANONICAL[table])})")
        clash = [theirs for theirs, mapped in mapping.items() if mapped == ours]
        if clash:
            raise ConfigError(f"{file}: columns {clash[0]!r} and {header!r} both name {ours}; decide with "
                              f"--map '{clash[0]}={ours}' --map '{header}=' (or the other way round)")
        mapping[header] = ours
    return ColumnProposal(mapping, tuple(unmatched))


def table_of(headers: list[str], overrides: dict[str, str | None]) -> str | None:
    """The table a file holds, judged by the columns its headers map to: transactions have a date and an amount
    (or a quantity and a unit price), customers a customer id and no transaction date; None when neither."""
    ours = {overrides[h] if h in overrides else match_column(h, "transactions") for h in headers}
    if "timestamp" in ours and ("amount" in ours or {"quantity", "unit_price"} <= ours):
        return "transactions"
    customers = {overrides[h] if h in overrides else match_column(h, "customers") for h in headers}
    return "customers" if "customer_id" in customers and "timestamp" not in ours else None


@dataclass(frozen=True)
class HistoryPlan:
    """Windows and backtest sized to a history (see the module docstring)."""

    history_months: int
    window_months: int
    backtest_every_months: int
    validation_gap_months: int  # equal to window_months means the default (null)


def history_months(first: pd.Timestamp, last: pd.Timestamp) -> int:
    """Whole calendar months from the first month start on or after `first` to the last one on or before the
    day after `last` (the pipeline's exclusive data end)."""
    start = pd.Timestamp(first).normalize()
    start = start if start.day == 1 else start + pd.offsets.MonthBegin(1)
    end = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    return (end.year - start.year) * 12 + end.month - start.month


def required_months(window: int, every: int, folds: int, gap: int = MIN_GAP_MONTHS) -> int:
    """Months of history a plan needs: history, validation and test windows, the folds' spacing and the gap."""
    return 3 * window + (folds - 1) * every + gap


def plan_for_history(months: int, folds: int) -> HistoryPlan:
    """The longest-window plan of WINDOW_PLANS the history holds with `folds` backtest folds."""
    for window, every in WINDOW_PLANS:
        if months >= required_months(window, every, folds):
            return HistoryPlan(months, window, every, min(window, months - required_months(window, every, folds, 0)))
    window, every = WINDOW_PLANS[-1]
    raise ConfigError(f"the transactions span {months} whole month(s); the shortest plan ({window}-month windows "
                      f"and horizon, {folds} monthly backtest folds, evaluate.backtest_folds) needs at least "
                      f"{required_months(window, every, folds)} months of history")


def plan_settings(plan: HistoryPlan) -> dict[str, Any]:
    """The params keys a plan sets (as a nested mapping)."""
    window = plan.window_months
    return {
        "labels": {"horizon_months": window, "active_months": window, "key_account": {"trailing_months": window}},
        "split": {"validation_gap_months": None if plan.validation_gap_months == window
                  else plan.validation_gap_months},
        "evaluate": {"backtest_every_months": plan.backtest_every_months},
    }


def differing(wanted: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The keys of `wanted` (nested) whose values differ from `base`'s; mappings are compared key by key."""
    out = {}
    for key, value in wanted.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            inner = differing(value, base[key])
            if inner:
                out[key] = inner
        elif key not in base or base[key] != value:
            out[key] = value
    return out


def output_targets(base_data: dict[str, Any], name: str, folder: Path) -> dict[str, Path]:
    """Every output path of the base's data group moved under a folder named after the profile: relative to
    the base's `folder`, data/validated becomes data/<name>/validated (a path outside it: <parent>/<name>/<file>)."""
    hints = typing.get_type_hints(DataConfig)
    targets = {}
    for key, value in base_data.items():
        if key == "raw_dir" or hints.get(key) is not Path:
            continue
        path = Path(value).resolve()
        if path.is_relative_to(folder.resolve()):
            first, *rest = path.relative_to(folder.resolve()).parts
            targets[key] = folder.resolve() / first / name / Path(*rest)
        else:
            targets[key] = path.parent / name / path.name
    return targets


def relative_to(path: Path, folder: Path) -> str:
    """`path` written relative to `folder` (POSIX separators)."""
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


class _ProfileDumper(yaml.SafeDumper):
    """Block style, but lists of plain values on one line (families: [spend, orders, ...])."""


_ProfileDumper.add_representer(list, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=all(not isinstance(v, dict | list) for v in data)))


def profile_yaml(settings: dict[str, Any], header: list[str]) -> str:
    """The profile's text: a comment header (wrapped at 118 characters), then the settings."""
    comment = []
    for line in header:
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        comment += textwrap.wrap(line, 116, subsequent_indent=indent, break_on_hyphens=False) or [""]
    text = "".join(f"# {line}".rstrip() + "\n" for line in comment)
    return text + yaml.dump(settings, Dumper=_ProfileDumper, sort_keys=False, allow_unicode=True, width=116)


# --- reading the exports -----------------------------------------------------------------------------------------

FALLBACK_ENCODING = "cp1252"  # Windows Western European: what non-UTF-8 exports of European systems use
SAMPLE_CHARS = 65536


@dataclass(frozen=True)
class ExportFile:
    """One export as `kap init` found it: its kind, text encoding and delimiter (text only), header and the
    values of every column as read (text for CSV)."""

    path: Path
    kind: str
    encoding: str | None
    delimiter: str | None
    frame: pd.DataFrame


def _open_bytes(path: Path, kind: str) -> typing.BinaryIO:
    return gzip.open(path, "rb") if kind == "gzip" else path.open("rb")


def detect_encoding(path: Path, kind: str, bom_encoding: str | None) -> str:
    """The file's text encoding: the byte-order mark's, else UTF-8 when every byte decodes as it, else
    FALLBACK_ENCODING when every byte decodes as that; refused otherwise (data.files.csv.encoding decides)."""
    if bom_encoding:
        return bom_encoding
    for encoding in ("utf-8", FALLBACK_ENCODING):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with _open_bytes(path, kind) as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise DataError(str(path), None, f"the text is neither UTF-8 nor {FALLBACK_ENCODING}; pass --encoding "
                    "(data.files.csv.encoding), e.g. latin-1")


def text_sample(path: Path, kind: str, encoding: str) -> str:
    """The first SAMPLE_CHARS characters of a text file (after decompression)."""
    with _open_bytes(path, kind) as fh, io.TextIOWrapper(fh, encoding=encoding, errors="replace") as text:
        return text.read(SAMPLE_CHARS)


def read_export(path: Path, encoding: str | None) -> ExportFile:
    """Kind, encoding, delimiter and the columns (as read by the pipeline) of one export; a kind the pipeline
    cannot read is refused by it, naming the file and what to do."""
    sniffed = sniff_file(path)
    if sniffed.kind in ("text", "gzip"):
        with _open_bytes(path, sniffed.kind) as fh:
            inner = sniff_bytes(fh.read(SNIFF_BYTES)) if sniffed.kind == "gzip" else sniffed
        if inner.kind == "text":
            encoding = encoding or detect_encoding(path, sniffed.kind, inner.encoding)
            delimiter = guess_delimiter(text_sample(path, sniffed.kind, encoding))
            frame = read_file(path, CsvOptions(delimiter=delimiter, encoding=encoding))
            return ExportFile(path, sniffed.kind, encoding, delimiter, frame)
    return ExportFile(path, sniffed.kind, None, None, read_file(path, CsvOptions()))


# --- formats -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FormatChoice:
    """Options the user passed to decide what the values cannot (None: decided by the values)."""

    dayfirst: bool | None = None
    decimal: str | None = None  # "." | ","
    thousands: str | None = None  # "none" | "," | "." | " " | "'"
    date_format: str | None = None
    encoding: str | None = None


OPTION_OF_SETTING = {"dayfirst": "--dayfirst or --monthfirst", "decimal": "--decimal . or --decimal ,",
                     "thousands": "--thousands (none, ',', '.', ' ' or \"'\")", "date_format": "--date-format",
                     "encoding": "--encoding"}
DECIDING_SETTING = re.compile(r"data\.files\.csv\.(\w+)")


def with_option_hint(error: DataError) -> UserInputError:
    """The pipeline's refusal of a format, plus the option of `kap init` that decides the setting it names."""
    match = DECIDING_SETTING.search(error.problem)
    if match is None or match[1] not in OPTION_OF_SETTING:
        return error
    return UserInputError(f"{error}\nkap init: decide it with {OPTION_OF_SETTING[match[1]]}")


def _text_values(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """A column's non-blank values when the file holds it as text (numbers and dates of Parquet need no format)."""
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return None
    text = values.dropna().astype("str").str.strip()
    return text[(text != "") & ~text.str.lower().isin(MISSING_TOKENS)]


def number_format(columns: list[pd.Series]) -> NumberFormat | None:
    """The one number format the values of every number column decide together; None when no value shows a
    separator, or when the values leave it open or the columns differ (each column then decides for itself
    in the pipeline, which refuses a column that cannot)."""
    every = pd.concat(columns) if columns else pd.Series(dtype="str")
    if not every.str.contains(r"[.,' ]", regex=True).any():
        return None
    try:
        return infer_number_format(every)
    except FormatError:
        return None


def date_format(values: pd.Series, dayfirst: bool | None) -> str | None:
    """The date format a column's values decide (None when they do not: the pipeline refuses it)."""
    try:
        return infer_date_format(values, dayfirst)
    except FormatError:
        return None


def dayfirst_of(formats: list[str | None]) -> bool | None:
    """data.files.csv.dayfirst the date columns agree on (None: ISO dates only, or columns that differ)."""
    orders = {fmt.startswith("%d") for fmt in formats if fmt and fmt.startswith(("%d", "%m"))}
    return orders.pop() if len(orders) == 1 else None


# --- the profile -------------------------------------------------------------------------------------------------

PREVIEW_ROWS = 5


@dataclass(frozen=True)
class InitRequest:
    """What `kap init` was asked: the exports, the profile to write, the params it extends, overrides."""

    files: tuple[Path, ...]
    output: Path
    extends: Path
    force: bool = False
    choice: FormatChoice = FormatChoice()
    overrides: dict[str, str | None] | None = None  # --map: their column -> ours (None: left out)


@dataclass(frozen=True)
class InitResult:
    """The written profile, its text, the lines that describe it and the first parsed rows of every file."""

    profile: Path
    text: str
    summary: tuple[str, ...]
    preview: dict[str, pd.DataFrame]


@dataclass(frozen=True)
class TableFile:
    """An export with the table it holds and its proposed mapping."""

    export: ExportFile
    table: str
    proposal: ColumnProposal


def classify(exports: list[ExportFile], overrides: dict[str, str | None]) -> list[TableFile]:
    """Each export's table and mapping; a file that is neither transactions nor customers, transactions
    without a customer id or date, or no transactions at all are refused."""
    files = []
    for export in exports:
        headers = [str(c) for c in export.frame.columns]
        table = table_of(headers, overrides)
        if table is None:
            raise DataError(str(export.path), None, f"holds neither transactions (a date and an amount, or a "
                            f"quantity and a unit price) nor customers (a customer id) by its column names "
                            f"{headers[:20]}; name its columns with --map THEIRS=OURS")
        proposal = propose_mapping(headers, table, str(export.path), overrides)
        missing = [c for c in ROLES[table].in_every_export if c != "invoice_id" and c not in proposal.mapping.values()]
        if missing:
            raise DataError(str(export.path), missing[0], f"no column of the file is recognised as {missing[0]} "
                            f"(columns {headers[:20]}); name it with --map THEIRS={missing[0]}")
        files.append(TableFile(export, table, proposal))
    if not any(f.table == "transactions" for f in files):
        raise ConfigError(f"none of {[str(e.path) for e in exports]} holds transactions (a date and an amount, "
                          "or a quantity and a unit price); name their columns with --map THEIRS=OURS")
    return files


def _agreed(files: list[TableFile], attribute: str, setting: str) -> str | None:
    """The one encoding or delimiter of every text export (one data.files.csv setting serves them all)."""
    seen = {getattr(f.export, attribute): str(f.export.path) for f in files if getattr(f.export, attribute)}
    if len(seen) > 1:
        raise ConfigError(f"the text exports differ in data.files.csv.{setting} ({seen}); one setting reads "
                          f"them all: convert them to one {setting}")
    return next(iter(seen), None)


def csv_settings(files: list[TableFile], choice: FormatChoice) -> tuple[dict[str, Any], list[str]]:
    """data.files.csv for the exports (what the user passed, else what the values decide) and a line per
    detected format."""
    csv: dict[str, Any] = {}
    if delimiter := _agreed(files, "delimiter", "delimiter"):
        csv["delimiter"] = delimiter
    if encoding := _agreed(files, "encoding", "encoding"):
        csv["encoding"] = "utf-8" if encoding == "utf-8-sig" else encoding  # the byte-order mark wins anyway
    numbers, dates = [], {}
    for f in files:
        for theirs, ours in f.proposal.mapping.items():
            values = _text_values(f.export.frame, theirs)
            if values is None:
                continue
            if ours in ROLES[f.table].numbers:
                numbers.append(values[values.map(parse_band).isna()] if ours in ROLES[f.table].bands else values)
            elif ours in ROLES[f.table].dates:
                dates[f"{f.export.path.name} {theirs!r}"] = date_format(values, choice.dayfirst)
    lines = []
    found = number_format(numbers)
    if found is not None:
        lines.append(f"numbers: decimal {found.decimal!r}, thousands " + (repr(found.thousands) if found.thousands
                                                                          else "none seen"))
    decimal = choice.decimal or (found.decimal if found else None)
    thousands = choice.thousands or (found.thousands if found else None)  # none seen: each export's values decide
    csv |= {key: value for key, value in (("decimal", decimal), ("thousands", thousands)) if value}
    lines += [f"dates: {column} {fmt or 'left open by the values'}" for column, fmt in dates.items()]
    if choice.date_format:
        csv["date_format"] = choice.date_format
    dayfirst = choice.dayfirst if choice.dayfirst is not None else dayfirst_of(list(dates.values()))
    if dayfirst is not None and not choice.date_format:
        csv["dayfirst"] = dayfirst
    return csv, lines


def checked_profile(text: str, folder: Path) -> Params:
    """A profile's text loaded as the pipeline loads it (extends, paths against `folder`), from a scratch file
    in `folder` that is removed again."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".yaml", dir=folder, delete=False) as fh:
        fh.write(text)
    try:
        return load_params(fh.name)
    finally:
        Path(fh.name).unlink()


def families_for(base: Params, tables: list[TableFile]) -> list[str]:
    """The base's feature families without those fed only by a transaction column no file has."""
    families = base.features.families or feature_families()
    mapped = {ours for f in tables if f.table == "transactions" for ours in f.proposal.mapping.values()}
    return [family for family in families if family not in FAMILY_COLUMNS or FAMILY_COLUMNS[family] in mapped]


def files_settings(tables: list[TableFile], csv: dict[str, Any], raw_dir: Path) -> dict[str, Any]:
    """data.files for the exports: each file with its mapping, the CSV settings, derived invoice ids and the
    customer attributes taken from transactions (those no customer file has)."""
    files: dict[str, Any] = {table: [{"path": f.export.path.resolve().relative_to(raw_dir).as_posix(),
                                       "columns": dict(f.proposal.mapping)} for f in tables if f.table == table]
                             for table in TABLES}
    files["csv"] = csv
    transactions = [set(f.proposal.mapping.values()) for f in tables if f.table == "transactions"]
    files["derive_invoice_id"] = any("invoice_id" not in columns for columns in transactions)
    in_customers = {ours for f in tables if f.table == "customers" for ours in f.proposal.mapping.values()}
    files["customer_attributes_from_transactions"] = sorted(
        c for c in set().union(*transactions) & set(ROLES["customers"].text)
        if c != "customer_id" and c not in in_customers)
    return files


def init_profile(request: InitRequest, today: pd.Timestamp | None = None) -> InitResult:
    """Read the exports, propose how to read them and a plan sized to their history, check that the pipeline
    reads them so, and write the profile (only the keys that differ from the params it extends)."""
    output = request.output
    if output.exists() and not request.force:
        raise ConfigError(f"{output} exists; pass --force to overwrite it")
    if not request.extends.is_file():
        raise ConfigError(f"params file to extend not found: {request.extends} (run from the project folder or "
                          "pass --extends)")
    base_params = load_params(request.extends)
    base = base_params.model_dump(mode="json")
    exports = [read_export(path, request.choice.encoding) for path in request.files]
    tables = classify(exports, request.overrides or {})
    csv, format_lines = csv_settings(tables, request.choice)
    name, profile_dir = output.stem, output.resolve().parent
    project = request.extends.resolve().parent
    raw_dir = Path(os.path.commonpath([f.export.path.resolve().parent for f in tables]))
    files = files_settings(tables, csv, raw_dir)
    suffix = "-" + name.replace("_", "-")
    wanted = {
        "data": {"source": "files", "raw_dir": raw_dir, **output_targets(base["data"], name, project), "files": files},
        "demo": {"output_dir": project / "data" / name / "demo"},  # never the default demo folder
        "features": {"families": families_for(base_params, tables)},
        "mlflow": {"experiment": base_params.mlflow.experiment + suffix,
                   "registered_model": base_params.mlflow.registered_model + suffix},
    }
    wanted["data"] |= {key: relative_to(path, profile_dir) for key, path in wanted["data"].items()
                       if isinstance(path, Path)}
    wanted["demo"]["output_dir"] = relative_to(wanted["demo"]["output_dir"], profile_dir)
    extends = {"extends": relative_to(request.extends, profile_dir)}
    reading = checked_profile(yaml.safe_dump({**extends, **differing(wanted, base)}), profile_dir)
    try:
        parts = read_sources(reading)
    except DataError as error:
        raise with_option_hint(error) from None
    validated = validate_tables(parts, reading.data.files, today or pd.Timestamp.now().normalize())
    timestamps = validated.transactions["timestamp"]
    plan = plan_for_history(history_months(timestamps.min(), timestamps.max()), base_params.evaluate.backtest_folds)
    changed = differing({**wanted, **plan_settings(plan)}, base)
    profile = {**extends, **dict(sorted(changed.items(), key=lambda item: list(base).index(item[0])))}
    summary = describe(tables, format_lines, files["derive_invoice_id"], plan, timestamps)
    text = profile_yaml(profile, profile_header(summary, request.extends, output))
    checked_profile(text, profile_dir)
    output.write_text(text, encoding="utf-8")
    preview = {part.path: part.frame[[c for c in part.frame.columns if c in CANONICAL[table]]].head(PREVIEW_ROWS)
               for table, table_parts in parts.items() for part in table_parts}
    return InitResult(output, text, tuple(summary), preview)


KIND_NAMES = {"text": "CSV", "gzip": "gzip-compressed", "xlsx": "Excel workbook", "parquet": "Parquet"}


def describe(tables: list[TableFile], format_lines: list[str], derive_invoice_id: bool, plan: HistoryPlan,
             timestamps: pd.Series) -> list[str]:
    """Plain lines on what was found and decided."""
    lines = []
    for f in tables:
        export = f.export
        how = KIND_NAMES[export.kind]
        if export.kind == "gzip":
            how += " CSV" if export.delimiter else " Parquet"
        if export.delimiter:
            how += f", {export.encoding}, delimiter {export.delimiter!r}"
        lines.append(f"{export.path.name}: {f.table} ({how})")
        lines.append("  columns: " + ", ".join(f"{theirs} -> {ours}" for theirs, ours in f.proposal.mapping.items()))
        if f.proposal.unmatched:
            lines.append("  left out (no column of ours by that name): " + ", ".join(f.proposal.unmatched))
    lines += format_lines
    if derive_invoice_id:
        lines.append("no invoice column: one invoice per customer and day (data.files.derive_invoice_id)")
    gap = "the horizon" if plan.validation_gap_months == plan.window_months else f"{plan.validation_gap_months}"
    lines.append(f"history: {timestamps.min().date()} .. {timestamps.max().date()}, {plan.history_months} whole "
                 f"months: {plan.window_months}-month windows and horizon, backtest folds every "
                 f"{plan.backtest_every_months} month(s), validation gap {gap} month(s)")
    return lines


def profile_header(summary: list[str], extends: Path, output: Path) -> list[str]:
    """The profile's comment header: how it was made and what to check before the first run."""
    return [
        f"Starter profile written by `kap init`; it extends {extends.name} and holds only what differs from it.",
        "",
        *summary,
        "",
        "Check before the first run:",
        "- each file's columns (theirs: ours) under data.files; a column left out is not read",
        "- data.files.currency, timezone and cancellations (e.g. an invoice prefix of credit notes)",
        "- data.files.exclude_products (postage, fees) and labels.key_account (the key-account bar)",
        f"Run: kap run-all --params {output}",
    ]
