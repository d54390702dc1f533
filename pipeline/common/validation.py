"""Validation of raw exports into typed, cleaned tables and a data-quality report (the validate stage's core;
`kap check` and `kap init` validate in memory with it).

Fatal problems (unreadable or empty file, text not in data.files.csv.encoding, missing or mis-mapped column,
unparsable dates or numbers, infinite numbers) raise a DataError naming the file, the column and up to five
example rows: exit code 2. Everything else is a documented repair, counted in the report (`quality.json`,
`quality.md` in data.quality_dir):

- customer ids are normalised to text (12345, 12345.0 and " 12345" are one customer: "ids_normalised");
  time-zone aware timestamps are converted to data.files.timezone ("timezone_aware_converted"); ISO 8601 dates
  are read as such, other formats inferred per value with data.files.csv.dayfirst ("non_iso_dates_inferred");
  blank numbers and dates, and the text NaN, NULL, N/A and the like in them, are missing values;
- several files of one table are combined; a later file (in configured order) supersedes earlier ones over its
  own date range (whole days) when the two share invoices, so overlapping exports and lines repeated across
  files are counted once ("overlap"); files that share no invoice (split by region or customer) are combined;
  identical lines within one file are real repeated scans and are kept;
- cancellations (negative quantity, an invoice prefix or a flag column) get a negative amount, netting them into
  spend; lines of excluded products (postage, fees) are dropped ("adjustment_lines");
- lines without customer id ("no_customer_id"), without amount ("missing_amount"), at or after
  data.files.valid_until or after today ("future_dated"), or beyond data.files.max_abs_line_amount
  ("absurd_amount") are dropped;
- customers only seen in transactions get a minimal row ("unknown_customers_added", examples listed); with a
  customer file, more than data.files.max_unknown_customer_share of them is fatal (leading-zero hint);
  customer rows without an id are dropped ("customer_rows_without_id_dropped");
  duplicated customer rows keep the last one ("conflicting_duplicate_customers_kept_last" counts ids whose rows
  differ);
- files are read by their bytes (gzip, UTF-16/UTF-8 byte-order marks, XLSX; zip, xls, pdf and binary files are
  fatal saying what to do); a header naming a column twice is fatal; lines repeating the header are dropped
  ("repeated_headers_dropped"); decimal mark and thousands separator, and day-first or month-first dates, are
  decided per column by the values (pipeline/common/sniff.py): undecidable or contradicting the settings is fatal;
- size bands in employees / annual_revenue become numbers by data.files.band_value ("bands_converted");
  data.files.derive_invoice_id makes one invoice per customer and day ("invoice_ids_derived");
  days_to_pay beyond 3650 days is blanked ("implausible_days_to_pay_blanked");
- lines before data.files.min_date ("before_min_date") and stray lines cut off from the bulk by
  data.files.stray_gap_days empty days, at most data.files.stray_max_share of them ("stray_lines", examples
  listed) are dropped before files supersede each other; exports of only cancellations or of one customer
  are fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.tables import Customers, Firmographics, Transactions, column_names
from pipeline.common.config import FilesConfig, Params, SourceFile
from pipeline.common.errors import DataError
from pipeline.common.ingest import MAX_DAYS_TO_PAY, ROLES, RawPart, empty_column, expand_sources, read_part
from pipeline.common.quality import quality_report

log = logging.getLogger(__name__)

# The contract every later stage relies on, checked on the cleaned tables (features/tables.py).
TABLE_MODELS = {"customers": Customers, "transactions": Transactions, "firmographics": Firmographics}
DEMO_SOURCES = {table: (SourceFile(path=f"{table}.parquet"),) for table in TABLE_MODELS}


@dataclass(frozen=True)
class ValidatedTables:
    """Validated tables and their quality report."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    firmographics: pd.DataFrame | None
    quality: dict


def configured_sources(params: Params) -> dict[str, tuple[SourceFile, ...]]:
    """The files of each table: the demo's Parquet files, or data.files for real exports."""
    if params.data.source == "demo":
        sources = dict(DEMO_SOURCES)
        if not (params.data.raw_dir / "firmographics.parquet").is_file():
            sources["firmographics"] = ()
        return sources
    files = params.data.files
    if not files.transactions:
        raise DataError("params.yaml", "data.files.transactions", "no transaction files configured")
    return {"customers": files.customers, "transactions": files.transactions, "firmographics": files.firmographics}


def read_sources(params: Params) -> dict[str, list[RawPart]]:
    """Every configured file, read, mapped and typed (the only disk access of this stage's core)."""
    files = params.data.files
    return {
        table: [read_part(path, source, table, files.csv, files.timezone, band_value=files.band_value,
                          derive_invoice_id=files.derive_invoice_id)
                for path, source in expand_sources(params.data.raw_dir, sources, table)]
        for table, sources in configured_sources(params).items()
    }


def _with_amount(part: RawPart) -> pd.DataFrame:
    frame = part.frame
    if "amount" in frame.columns:
        return frame
    if {"quantity", "unit_price"} <= set(frame.columns):
        return frame.assign(amount=(frame["quantity"] * frame["unit_price"]).round(4))
    raise DataError(part.path, "amount", "no amount column, and no quantity and unit_price to compute it from; "
                    "map one in data.files.transactions[].columns")


def supersede_overlaps(parts: list[pd.DataFrame]) -> tuple[list[pd.DataFrame], int]:
    """Drop lines of earlier files on days a later file covers, when the two files share invoices (one export
    repeating another); files that share none (split by region or customer) are combined as they are. Returns
    the kept parts and the lines dropped."""
    days = [(p["timestamp"].min().normalize(), p["timestamp"].max().normalize())
            if p["timestamp"].notna().any() else None for p in parts]
    invoices = [set(p["invoice_id"].dropna()) for p in parts]
    kept, dropped = [], 0
    for i, part in enumerate(parts):
        day = part["timestamp"].dt.normalize()
        covered = np.zeros(len(part), dtype=bool)
        for j in range(i + 1, len(parts)):
            if days[j] is None:
                continue
            first, last = days[j]
            overlap = ((day >= first) & (day <= last)).to_numpy()
            if overlap.any() and not invoices[j].isdisjoint(part.loc[overlap, "invoice_id"]):
                covered |= overlap
        kept.append(part.loc[~covered])
        dropped += int(covered.sum())
    return kept, dropped


def _cancellations(tx: pd.DataFrame, files: FilesConfig) -> pd.Series:
    rule = files.cancellations
    flagged = pd.Series(False, index=tx.index)
    if rule.negative_quantity and "quantity" in tx.columns:
        flagged |= tx["quantity"].lt(0).fillna(False)
    if rule.invoice_prefix:
        flagged |= tx["invoice_id"].str.startswith(rule.invoice_prefix, na=False)
    if rule.flag_column:
        if rule.flag_column not in tx.columns:
            raise DataError(str(tx["_file"].iloc[0]), rule.flag_column,
                            "data.files.cancellations.flag_column names a column the transactions lack")
        flag = tx[rule.flag_column].astype("str").str.strip().str.lower()
        flagged |= flag.isin(["1", "true", "yes", "y", "t", "x"])
    return flagged


def stray_lines(timestamps: pd.Series, gap_days: int, max_share: float) -> pd.Series:
    """Lines cut off from the bulk of the timeline, at either end, by at least `gap_days` empty days and
    together at most `max_share` of the lines (a test booking in 1970, a typo year 2099)."""
    day = timestamps.dt.normalize()
    per_day = day.value_counts().sort_index()
    empty_days = (per_day.index[1:] - per_day.index[:-1]).days - 1
    cuts = np.flatnonzero(empty_days >= gap_days)  # a gap after the cut-th day
    if not len(cuts):
        return pd.Series(False, index=timestamps.index)
    lines = per_day.to_numpy().cumsum()
    allowed, total = max_share * len(timestamps), len(timestamps)
    early = [c for c in cuts if lines[c] <= allowed]
    late = [c for c in cuts if total - lines[c] <= allowed]
    stray = pd.Series(False, index=timestamps.index)
    if early:
        stray |= day <= per_day.index[max(early)]
    if late:
        stray |= day > per_day.index[min(late)]
    return stray


def _timeline_drops(tx: pd.DataFrame, files: FilesConfig, today: pd.Timestamp) -> dict[str, pd.Series]:
    """Lines outside the plausible timeline, by reason: before data.files.min_date, at or after valid_until
    (or after today), stray (far from the bulk). Decided before files supersede each other, so that one stray
    line never widens a file's date range."""
    valid_until = pd.Timestamp(files.valid_until) if files.valid_until else today + pd.Timedelta(days=1)
    drops = {"future_dated": tx["timestamp"] >= valid_until,
             "before_min_date": tx["timestamp"] < pd.Timestamp(files.min_date)}
    inside = ~(drops["future_dated"] | drops["before_min_date"]) & tx["timestamp"].notna()
    stray = stray_lines(tx.loc[inside, "timestamp"], files.stray_gap_days, files.stray_max_share)
    drops["stray_lines"] = stray.reindex(tx.index, fill_value=False)
    return drops


def clean_transactions(
    parts: list[RawPart], files: FilesConfig, today: pd.Timestamp
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Combine transaction files and apply the documented repairs; returns the lines, the counts and, per
    customer, the latest value of each of data.files.customer_attributes_from_transactions."""
    lines = pd.concat([_with_amount(p).assign(_part=i) for i, p in enumerate(parts)], ignore_index=True)
    timeline = _timeline_drops(lines, files, today)
    off_timeline = pd.Series(False, index=lines.index)
    for mask in timeline.values():
        off_timeline |= mask
    frames, overlap = supersede_overlaps([lines.loc[~off_timeline & (lines["_part"] == i)].drop(columns="_part")
                                          for i in range(len(parts))])
    tx = pd.concat(frames)
    dropped = {"overlap": overlap}  # lines dropped, by reason (the quality report lists them in this order)
    counts = {"dropped": dropped, "stray_examples": lines.loc[timeline["stray_lines"]]}

    cancelled = _cancellations(tx, files)
    counts["cancellation_lines_netted"] = int(cancelled.sum())
    tx = tx.assign(amount=tx["amount"].where(~cancelled, -tx["amount"].abs()))

    product = tx["product_id"] if "product_id" in tx.columns else pd.Series(None, index=tx.index, dtype="str")
    drops = {
        "no_customer_id": tx["customer_id"].isna(),
        "adjustment_lines": product.isin(files.exclude_products),
        "missing_amount": tx["amount"].isna(),
        "future_dated": pd.Series(False, index=tx.index),
        "absurd_amount": ~np.isfinite(tx["amount"]) | (tx["amount"].abs() > files.max_abs_line_amount),
    }
    keep = pd.Series(True, index=tx.index)
    for reason, mask in drops.items():
        dropped[reason] = int((mask & keep).sum())  # each line counted under its first reason only
        keep &= ~mask
    for reason, mask in timeline.items():
        dropped[reason] = dropped.get(reason, 0) + int(mask.sum())
    tx = tx.loc[keep].reset_index(drop=True)
    if "days_to_pay" in tx.columns:
        implausible = tx["days_to_pay"] > MAX_DAYS_TO_PAY
        counts["implausible_days_to_pay_blanked"] = int(implausible.sum())
        tx["days_to_pay"] = tx["days_to_pay"].where(~implausible)
    attributes = list(files.customer_attributes_from_transactions)
    missing = [a for a in attributes if a not in tx.columns]
    if missing:
        raise DataError(parts[0].path, missing[0],
                        "data.files.customer_attributes_from_transactions names a column the transactions lack")
    latest = tx.sort_values("timestamp", kind="stable").groupby("customer_id")[attributes].last()  # skips NaN
    return _canonical_transactions(tx), counts, latest


def _canonical_transactions(tx: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=tx.index)
    for column in column_names(Transactions):
        if column in tx.columns:
            out[column] = tx[column]
        else:
            out[column] = empty_column("float64" if column in ROLES["transactions"].numbers else "str",
                                       len(tx)).to_numpy()
    out["product_id"] = out["product_id"].fillna("unknown")
    out["category"] = out["category"].fillna(out["product_id"])  # without categories, products stand in
    return out.sort_values(["timestamp", "invoice_id"], kind="stable", ignore_index=True)


def _check_unknown_customers(unknown: list[str], known: set[str], buying: int, parts: list[RawPart],
                             max_share: float) -> None:
    """Stop when more than `max_share` of the buying customers are missing from the customer file(s)."""
    share = len(unknown) / buying
    if share <= max_share:
        return
    unpadded = {k.lstrip("0"): k for k in known}
    padded = [(u, unpadded[u.lstrip("0")]) for u in unknown if u.lstrip("0") in unpadded][:3]
    hint = (f"; they differ from customer ids only by leading zeros, e.g. {padded}: export both with the same "
            "ids") if padded else "; is customer_id mapped to the same column in both exports?"
    raise DataError(", ".join(p.path for p in parts), "customer_id",
                    f"{len(unknown)} of {buying} customers of the transactions ({share:.0%}) are not in the "
                    f"customer file, more than data.files.max_unknown_customer_share ({max_share:.0%}); e.g. "
                    f"{unknown[:5]}{hint}")


def build_customers(parts: list[RawPart], tx: pd.DataFrame, attributes: pd.DataFrame,
                    max_share: float = 1.0) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """One row per customer: the last row of duplicated ids, missing attributes filled from `attributes`
    (per customer, from transactions), minimal rows for customers only seen in transactions (more than
    `max_share` of the buying customers missing from given customer files is an error). Returns rows,
    counts, conflicts."""
    frames = [p.frame for p in parts]
    customers = (pd.concat(frames, ignore_index=True) if frames
                 else pd.DataFrame({"customer_id": pd.Series(dtype="str")}))
    without_id = int(customers["customer_id"].isna().sum())
    customers = customers.loc[customers["customer_id"].notna()]
    customers = customers.drop_duplicates([c for c in customers.columns if c != "_file"], keep="last")
    conflicting = customers["customer_id"].duplicated(keep=False)
    conflicts = customers.loc[conflicting].sort_values("customer_id").head(5)
    counts = {"conflicting_duplicate_customers": int(customers.loc[conflicting, "customer_id"].nunique()),
              "customer_rows_without_id_dropped": without_id}
    customers = customers.drop_duplicates("customer_id", keep="last")

    known = set(customers["customer_id"])
    unknown = sorted(set(tx["customer_id"]) - known)
    counts["unknown_customers_added"] = len(unknown)
    counts["unknown_examples"] = unknown[:5]
    if parts and unknown:
        _check_unknown_customers(unknown, known, tx["customer_id"].nunique(), parts, max_share)
    customers = pd.concat([customers, pd.DataFrame({"customer_id": pd.Series(unknown, dtype="str")})],
                          ignore_index=True)
    columns = column_names(Customers)
    for column in columns:
        if column not in customers.columns:
            dtype = "float64" if column in ROLES["customers"].numbers else "str"
            customers[column] = empty_column(dtype, len(customers)).to_numpy()
    for attribute in attributes.columns:
        customers[attribute] = customers[attribute].fillna(customers["customer_id"].map(attributes[attribute]))
    first_order = tx.loc[tx["amount"] > 0].groupby("customer_id")["timestamp"].min().dt.normalize()
    customers["first_order_date"] = pd.to_datetime(customers["first_order_date"]).fillna(
        customers["customer_id"].map(first_order)).astype("datetime64[us]")
    for column in ROLES["customers"].text:
        customers[column] = customers[column].astype("str").where(customers[column].notna())
    return customers[columns].reset_index(drop=True), counts, conflicts


def build_firmographics(parts: list[RawPart]) -> pd.DataFrame | None:
    """Snapshots ordered by customer and valid_from; a repeated (customer, valid_from) keeps the last."""
    if not parts:
        return None
    snapshots = pd.concat([p.frame for p in parts], ignore_index=True).dropna(subset=["customer_id"])
    snapshots = snapshots.drop_duplicates(["customer_id", "valid_from"], keep="last")
    return snapshots[column_names(Firmographics)].sort_values(["customer_id", "valid_from"], ignore_index=True)


def check_schema(frame: pd.DataFrame, table: str, files: list[RawPart]) -> None:
    """The cleaned table against its contract; the first failure becomes a DataError with examples."""
    try:
        TABLE_MODELS[table].to_schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        column = cases["column"].iloc[0] if isinstance(cases["column"].iloc[0], str) else None
        index = cases["index"].dropna().astype(int).unique()[:5]
        checks = "; ".join(sorted({str(c) for c in cases["check"].unique()})[:5])
        examples = frame.loc[frame.index.isin(index)]
        raise DataError(", ".join(p.path for p in files), column,
                        f"{len(cases)} value(s) fail the check(s): {checks}", examples) from None


def _check_usable(tx: pd.DataFrame, parts: list[RawPart]) -> None:
    """Refuse exports no ranking can come from: no positive amount at all, or a single customer."""
    files = ", ".join(p.path for p in parts)
    if not (tx["amount"] > 0).any():
        raise DataError(files, "amount", f"all {len(tx)} kept lines are cancellations or credits (no positive "
                        "amount): export the sales too, or check data.files.cancellations", tx.head(5))
    customers = tx["customer_id"].unique()
    if len(customers) == 1:
        raise DataError(files, "customer_id", f"every kept line belongs to one customer ({customers[0]!r}): a "
                        "ranking needs many customers; is customer_id mapped to the customer column?")


def validate_tables(parts: dict[str, list[RawPart]], files: FilesConfig, today: pd.Timestamp) -> ValidatedTables:
    """Combine, clean and check the tables read from the raw files (no disk access)."""
    transactions, tx_counts, attributes = clean_transactions(parts["transactions"], files, today)
    if transactions.empty:
        raise DataError(", ".join(p.path for p in parts["transactions"]), None,
                        "no transaction line is left after cleaning (lines dropped: " + ", ".join(
                            f"{reason} {n:,}" for reason, n in tx_counts["dropped"].items() if n)
                        + "; see data.files.min_date, valid_until and the column mapping)")
    _check_usable(transactions, parts["transactions"])
    customers, customer_counts, conflicts = build_customers(parts.get("customers", []), transactions, attributes,
                                                            files.max_unknown_customer_share)
    firmographics = build_firmographics(parts.get("firmographics", []))
    check_schema(transactions, "transactions", parts["transactions"])
    check_schema(customers, "customers", parts.get("customers", []))
    if firmographics is not None:
        check_schema(firmographics, "firmographics", parts["firmographics"])
    quality = quality_report(parts, transactions, customers, tx_counts | customer_counts, conflicts, files.currency)
    return ValidatedTables(customers, transactions, firmographics, quality)
