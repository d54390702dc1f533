"""The tables the libraries and stages exchange, one pandera model each: every column in its order, its type
and its checks. `Model.to_schema()` validates a frame; `Model.column` is the column's name.

A column declared `required=False` is always in the validated tables, but the libraries do without it (the
feature builder reads only the required ones). Metadata says how exports of the table are read:
`ID` text is an id (12345.0 and " 12345" are "12345"), `BAND` a number may come as a size band ("10-49"),
`IN_EVERY_EXPORT` a file of the table without the column is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.dtypes import is_datetime, is_float, is_string
from pandera.typing import Series

ID, BAND, IN_EVERY_EXPORT = "id", "band", "in_every_export"


def _flags(*names: str) -> dict[str, bool]:
    return dict.fromkeys(names, True)


class Transactions(pa.DataFrameModel):
    """Invoice lines, credit notes with a negative amount; ordered by timestamp, then invoice_id."""

    invoice_id: Series[str] = pa.Field(metadata=_flags(ID, IN_EVERY_EXPORT))
    customer_id: Series[str] = pa.Field(metadata=_flags(ID, IN_EVERY_EXPORT))
    timestamp: Series[pd.Timestamp] = pa.Field(metadata=_flags(IN_EVERY_EXPORT))
    product_id: Series[str] = pa.Field(metadata=_flags(ID))
    category: Series[str]
    quantity: Series[float] = pa.Field(nullable=True, required=False)
    unit_price: Series[float] = pa.Field(nullable=True, required=False)
    amount: Series[float]
    days_to_pay: Series[float] = pa.Field(ge=0, nullable=True)

    @pa.check("amount", element_wise=False, error="finite")
    @classmethod
    def finite(cls, amount: Series[float]) -> Series[bool]:
        return np.isfinite(amount)


class TransactionExport(Transactions):
    """The columns a transactions export may carry: the table's, and customer attributes read as text."""

    country: Series[str] = pa.Field(nullable=True, required=False)


class Customers(pa.DataFrameModel):
    """One row per customer: firmographics as last known, and the day of the first order."""

    customer_id: Series[str] = pa.Field(unique=True, metadata=_flags(ID, IN_EVERY_EXPORT))
    company_name: Series[str] = pa.Field(nullable=True, required=False)
    industry: Series[str] = pa.Field(nullable=True)
    country: Series[str] = pa.Field(nullable=True)
    region: Series[str] = pa.Field(nullable=True)
    employees: Series[float] = pa.Field(ge=0, nullable=True, metadata=_flags(BAND))
    annual_revenue: Series[float] = pa.Field(ge=0, nullable=True, metadata=_flags(BAND))
    founded_year: Series[float] = pa.Field(nullable=True)
    credit_rating: Series[str] = pa.Field(nullable=True)
    acquisition_channel: Series[str] = pa.Field(nullable=True)
    account_owner: Series[str] = pa.Field(nullable=True, required=False)
    first_order_date: Series[pd.Timestamp] = pa.Field(nullable=True, required=False)


class Firmographics(pa.DataFrameModel):
    """Snapshots of a customer's size, each valid from its date until the next; ordered by customer_id and
    valid_from."""

    customer_id: Series[str] = pa.Field(metadata=_flags(ID, IN_EVERY_EXPORT))
    valid_from: Series[pd.Timestamp] = pa.Field(metadata=_flags(IN_EVERY_EXPORT))
    employees: Series[float] = pa.Field(nullable=True, metadata=_flags(BAND, IN_EVERY_EXPORT))
    annual_revenue: Series[float] = pa.Field(nullable=True, metadata=_flags(BAND, IN_EVERY_EXPORT))

    class Config:
        unique: ClassVar[list[str]] = ["customer_id", "valid_from"]


class Spine(pa.DataFrameModel):
    """The (customer, cutoff) rows features and labels are computed for; cutoffs are dates (midnight)."""

    customer_id: Series[str]
    cutoff: Series[pd.Timestamp]


@dataclass(frozen=True)
class ColumnRoles:
    """A table's columns by how an export's values are read, each in the table's column order."""

    text: tuple[str, ...]
    numbers: tuple[str, ...]
    dates: tuple[str, ...]
    ids: tuple[str, ...]  # text columns holding ids
    bands: tuple[str, ...]  # number columns that may hold size bands
    in_every_export: tuple[str, ...]


def column_names(model: type[pa.DataFrameModel]) -> list[str]:
    """Every column of the table, in order."""
    return list(model.to_schema().columns)


def required_columns(model: type[pa.DataFrameModel]) -> list[str]:
    """The columns the libraries need, in order (the others they do without)."""
    return [name for name, column in model.to_schema().columns.items() if column.required]


def column_roles(model: type[pa.DataFrameModel]) -> ColumnRoles:
    """The table's columns by type (text, numbers, dates) and by metadata flag."""
    columns = model.to_schema().columns

    def where(test) -> tuple[str, ...]:
        return tuple(name for name, column in columns.items() if test(column))

    def flagged(flag: str) -> tuple[str, ...]:
        return where(lambda column: (column.metadata or {}).get(flag, False))

    return ColumnRoles(
        text=where(lambda column: is_string(column.dtype)),
        numbers=where(lambda column: is_float(column.dtype)),
        dates=where(lambda column: is_datetime(column.dtype)),
        ids=flagged(ID),
        bands=flagged(BAND),
        in_every_export=flagged(IN_EVERY_EXPORT),
    )
