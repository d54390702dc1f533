"""Stage validate: raw tables → typed, cleaned Parquet tables and a data-quality summary.

Fatal problems (missing column, unparsable dates or numbers, conflicting duplicate customers) raise a
DataError naming the file, the column and example rows; the command line exits with code 2. Repairs
(lines without customer id dropped, unknown customers given a minimal row) are counted in the summary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pipeline.config import Params
from pipeline.errors import DataError
from pipeline.io import atomic_dir, read_json, read_parquet, write_json

log = logging.getLogger(__name__)

TABLES = ("customers", "transactions", "firmographics")
QUALITY_FILE = "quality.json"

TEXT = {"customers": ["customer_id", "company_name", "industry", "country", "region", "credit_rating",
                      "acquisition_channel", "account_owner"],
        "transactions": ["invoice_id", "customer_id", "product_id", "category"],
        "firmographics": ["customer_id"]}
NUMBERS = {"customers": ["employees", "annual_revenue", "founded_year"],
           "transactions": ["quantity", "unit_price", "amount", "days_to_pay"],
           "firmographics": ["employees", "annual_revenue"]}
DATES = {"customers": ["first_order_date"], "transactions": ["timestamp"], "firmographics": ["valid_from"]}
REQUIRED = {
    "customers": ["customer_id", "company_name", "industry", "country"],
    "transactions": ["invoice_id", "customer_id", "timestamp", "product_id", "category", "amount"],
    "firmographics": ["customer_id", "valid_from", "employees", "annual_revenue"],
}

SCHEMAS = {
    "transactions": pa.DataFrameSchema(
        {
            "invoice_id": pa.Column(str, nullable=False),
            "customer_id": pa.Column(str, nullable=False),
            "timestamp": pa.Column("datetime64[us]", nullable=False),
            "amount": pa.Column(float, pa.Check(lambda s: np.isfinite(s), error="finite amount")),
            "days_to_pay": pa.Column(float, pa.Check.ge(0), nullable=True),
        }
    ),
    "customers": pa.DataFrameSchema(
        {
            "customer_id": pa.Column(str, nullable=False, unique=True),
            "employees": pa.Column(float, pa.Check.ge(0), nullable=True),
            "annual_revenue": pa.Column(float, pa.Check.ge(0), nullable=True),
        }
    ),
    "firmographics": pa.DataFrameSchema(
        {
            "customer_id": pa.Column(str, nullable=False),
            "valid_from": pa.Column("datetime64[us]", nullable=False),
        },
        unique=["customer_id", "valid_from"],
    ),
}


@dataclass(frozen=True)
class ValidatedTables:
    customers: pd.DataFrame
    transactions: pd.DataFrame
    firmographics: pd.DataFrame | None
    quality: dict


def raw_file(raw_dir: Path, table: str) -> Path | None:
    """The raw file of a table: `<table>.parquet` or `<table>.csv` in the raw folder (None if absent)."""
    for suffix in (".parquet", ".csv"):
        candidate = raw_dir / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_raw(path: Path) -> pd.DataFrame:
    """Read a raw CSV (all columns as text) or Parquet file, naming the file on failure."""
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        return pd.read_parquet(path)
    except Exception as exc:
        raise DataError(str(path), None, f"cannot be read: {exc}") from exc


def _blank_as_missing(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    return values.where(values.isna() | (values.astype("str").str.strip() != ""))


def _coerce_dates(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    values = _blank_as_missing(frame[column])
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise DataError(file, column, f"{int(bad.sum())} value(s) are not dates", frame.loc[bad, [column]])
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed.astype("datetime64[us]")


def _coerce_numbers(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    values = _blank_as_missing(frame[column])
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise DataError(file, column, f"{int(bad.sum())} value(s) are not numbers", frame.loc[bad, [column]])
    return parsed


def type_table(frame: pd.DataFrame, table: str, file: str) -> pd.DataFrame:
    """Check required columns and give every known column its canonical dtype."""
    missing = [c for c in REQUIRED[table] if c not in frame.columns]
    if missing:
        raise DataError(
            file, missing[0], f"required column(s) {missing} missing; found columns {list(frame.columns)}"
        )
    typed = frame.copy()
    for column in TEXT[table]:
        if column in typed.columns:
            text = typed[column]
            if pd.api.types.is_float_dtype(text):  # ids read as 12345.0 mean "12345"
                text = text.map(lambda v: f"{v:.0f}" if pd.notna(v) and float(v).is_integer() else v)
            typed[column] = text.astype("str").str.strip().where(text.notna())
    for column in NUMBERS[table]:
        if column in typed.columns:
            typed[column] = _coerce_numbers(typed, column, file)
    for column in DATES[table]:
        if column in typed.columns:
            typed[column] = _coerce_dates(typed, column, file)
    return typed


def check_schema(frame: pd.DataFrame, table: str, file: str) -> None:
    """Run the pandera schema; the first failing column becomes a DataError with example rows."""
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        column = first["column"] if isinstance(first["column"], str) else None
        index = cases["index"].dropna().astype(int).unique()[:5]
        examples = frame.loc[frame.index.isin(index)]
        problems = "; ".join(sorted({str(c) for c in cases["check"].unique()})[:5])
        raise DataError(file, column, f"{len(cases)} value(s) fail the check(s): {problems}", examples) from None


def validate_tables(raw: dict[str, pd.DataFrame], files: dict[str, str]) -> ValidatedTables:
    """Type, check and clean the raw tables (pure: no disk access)."""
    quality: dict = {"rows_read": {t: len(f) for t, f in raw.items()}, "repairs": {}}
    typed = {t: type_table(f, t, files[t]) for t, f in raw.items()}
    for table in ("customers", "transactions"):
        if typed[table].empty:
            raise DataError(files[table], None, "has no rows")

    transactions = typed["transactions"]
    no_customer = transactions["customer_id"].isna()
    quality["repairs"]["transaction_lines_without_customer_dropped"] = int(no_customer.sum())
    transactions = transactions.loc[~no_customer]
    if "amount" in transactions and transactions["amount"].isna().any():
        bad = transactions["amount"].isna()
        raise DataError(files["transactions"], "amount", f"{int(bad.sum())} empty amount(s)", transactions[bad])
    if "days_to_pay" not in transactions.columns:
        transactions = transactions.assign(days_to_pay=np.nan)
    check_schema(transactions, "transactions", files["transactions"])

    customers = typed["customers"]
    duplicated = customers["customer_id"].duplicated(keep=False)
    if duplicated.any():
        raise DataError(files["customers"], "customer_id", f"{int(duplicated.sum())} rows share a customer id",
                        customers[duplicated].sort_values("customer_id"))
    unknown = sorted(set(transactions["customer_id"]) - set(customers["customer_id"]))
    quality["repairs"]["unknown_customers_added"] = len(unknown)
    if unknown:
        customers = pd.concat([customers, pd.DataFrame({"customer_id": unknown})], ignore_index=True)
    for column in TEXT["customers"] + NUMBERS["customers"]:
        if column not in customers.columns:
            customers[column] = np.nan if column in NUMBERS["customers"] else pd.Series(dtype="str")
    check_schema(customers, "customers", files["customers"])

    firmographics = typed.get("firmographics")
    if firmographics is not None:
        check_schema(firmographics, "firmographics", files["firmographics"])
        firmographics = firmographics.sort_values(["customer_id", "valid_from"], ignore_index=True)

    transactions = transactions.sort_values(["timestamp", "invoice_id"], ignore_index=True)
    quality.update(
        rows_kept={"customers": len(customers), "transactions": len(transactions)},
        first_timestamp=str(transactions["timestamp"].min()),
        last_timestamp=str(transactions["timestamp"].max()),
        customers_with_transactions=int(transactions["customer_id"].nunique()),
        net_revenue=float(transactions["amount"].sum()),
    )
    return ValidatedTables(customers.reset_index(drop=True), transactions, firmographics, quality)


def run(params: Params) -> ValidatedTables:
    """Read the raw folder, validate, and replace the validated folder atomically."""
    raw_dir = params.data.raw_dir
    raw, files = {}, {}
    for table in TABLES:
        path = raw_file(raw_dir, table)
        if path is None:
            if table == "firmographics":
                continue
            raise DataError(str(raw_dir / f"{table}.parquet"), None,
                            "file not found (expected <table>.parquet or <table>.csv in data.raw_dir)")
        raw[table], files[table] = read_raw(path), str(path)
    tables = validate_tables(raw, files)
    with atomic_dir(params.data.validated_dir) as tmp:
        for table in TABLES:
            frame = getattr(tables, table)
            if frame is not None:
                frame.to_parquet(tmp / f"{table}.parquet", index=False)
        write_json(tables.quality, tmp / QUALITY_FILE)
    log.info("validated %s transaction lines of %s customers", len(tables.transactions), len(tables.customers))
    return tables


def load_validated(params: Params) -> ValidatedTables:
    """Read the validate stage's outputs (for the later stages)."""
    folder = params.data.validated_dir
    snapshots = folder / "firmographics.parquet"
    return ValidatedTables(
        customers=read_parquet(folder / "customers.parquet"),
        transactions=read_parquet(folder / "transactions.parquet"),
        firmographics=read_parquet(snapshots) if snapshots.is_file() else None,
        quality=read_json(folder / QUALITY_FILE),
    )
