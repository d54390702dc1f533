"""Point-in-time feature snapshots: DuckDB rolls the lines up once, numpy reads every cutoff off the rollup.

One builder for training and scoring: the caller passes a spine of (customer_id, cutoff) rows (many cutoffs
for training, one as-of date for scoring) and gets one feature row per spine row.

Design (the cost is one pass over the lines, whatever the number of cutoffs and windows):

1. DuckDB reads the lines (a Parquet file directly, or a DataFrame), groups them into invoices and rolls the
   invoices up into one row per customer and day (net spend, gross value, orders, largest order, a bit mask
   of the categories bought) and one row per customer and payment day. Money is carried as integers of
   1/10 000 (as DECIMAL(18, 4)), so sums are exact and never depend on summation order.
2. numpy keeps those rows sorted by (customer, day). A spine row's window [cutoff - w, cutoff) is the row
   range between two binary searches: sums and counts are differences of prefix sums, the largest order and
   the categories bought are reductions over the range. Extra cutoffs and windows cost binary searches over
   the small rollup, not another pass over the lines.

Point-in-time rule: a cutoff `t` is a midnight timestamp; only transaction lines with `timestamp < t` are
used, a payment counts only once its payment date is before `t`, and a firmographic snapshot only if its
`valid_from < t`. Missing history: sums and counts are 0, means, ratios, maxima and recency are NaN.
Families not asked for are not computed.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import functools
import itertools
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.catalogue import (
    ADDED_WINDOWS_DAYS,
    EXPANSION_LOOKBACK_DAYS,
    EXPANSION_WINDOWS_DAYS,
    GROWTH_WINDOWS_DAYS,
    LATE_PAYMENT_DAYS,
    PEER_SIZE_BANDS,
    PERCENTILE_WINDOWS_DAYS,
    SLOPE_MONTHS,
    FeatureDef,
    feature_catalogue,
)

SPINE_COLUMNS = ["customer_id", "cutoff"]
TRANSACTION_COLUMNS = ["customer_id", "invoice_id", "timestamp", "product_id", "category", "amount", "days_to_pay"]
CUSTOMER_COLUMNS = [
    "customer_id", "industry", "country", "region", "employees", "annual_revenue",
    "founded_year", "credit_rating", "acquisition_channel",
]
SNAPSHOT_COLUMNS = ["customer_id", "valid_from", "employees", "annual_revenue"]
SIZE_COLUMNS = SNAPSHOT_COLUMNS[2:]  # firm size: from snapshots as of the cutoff, or the customers table
CREDIT_SCORES = {"AAA": 7, "AA": 6, "A": 5, "BBB": 4, "BB": 3, "B": 2, "CCC": 1}
MONEY_SCALE = 10_000  # money as integers of 1/10 000, the DECIMAL(18, 4) the amounts are read as
MASK_BITS = 64  # up to this many distinct categories (products) are counted with bit masks, more with events
LINES_PER_CHUNK = 2_000_000  # lines are rolled up chunk by chunk of whole days, about this many at a time
DUCKDB_MEMORY_LIMIT = "512MB"  # DuckDB spills to a temporary folder beyond this
DUCKDB_ROLLUP_MEMORY_LIMIT = "1GB"  # during the rollup (chunked to fit), before numpy's arrays take the memory
DUCKDB_IDLE_MEMORY_LIMIT = "64MB"  # set for a moment after the rollup, so DuckDB frees the buffers it keeps
DUCKDB_THREADS = 2  # the CI and target machines have 2 cores
DAY_OFFSET = 1 << 31  # days since 1970 shifted to be non-negative in the (customer, day) search key

TransactionSource = pd.DataFrame | str | Path
# families read off the per-day rollup of the lines (the others need only the customers table)
ROLLUP_FAMILIES = {"spend", "orders", "order", "cadence", "recency", "tenure", "categories", "products", "returns",
                   "payment", "wallet", "relationship"}


def build_features(
    transactions: TransactionSource,
    customers: pd.DataFrame,
    spine: pd.DataFrame,
    windows_days: tuple[int, ...] = (90, 180, 365),
    snapshots: pd.DataFrame | None = None,
    families: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Feature snapshot per spine row: columns `customer_id`, `cutoff`, then the catalogue in order.

    `transactions` is a DataFrame or the path of a Parquet file (read by DuckDB without a pandas copy).
    `snapshots` (customer_id, valid_from, employees, annual_revenue) make firm size point-in-time; without
    them the customers table's employees and revenue are taken as valid at every cutoff. `families` limits
    the output, and the work, to those feature families (default: all).
    """
    catalogue = feature_catalogue(windows_days, families)
    wanted = {d.family for d in catalogue}
    _require(customers, CUSTOMER_COLUMNS, "customers")
    spine = _check_spine(spine)
    if "account_owner" not in customers.columns:
        customers = customers.assign(account_owner=None)
    with _duckdb() as con:
        lines = _register_lines(con, transactions)
        keys, customer = _customer_keys(con, spine)
        cutoff_day = spine["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64)
        order = np.lexsort((cutoff_day, customer))  # probes sorted by customer, then cutoff
        probes = _Probes(customer[order], cutoff_day[order])
        if np.any(np.diff(probes.key(0)) == 0):
            raise ValueError("spine has duplicated (customer_id, cutoff) rows")
        attributes = customers.drop_duplicates("customer_id").set_index("customer_id").reindex(keys)
        if snapshots is not None:
            _require(snapshots, SNAPSHOT_COLUMNS, "snapshots")
            con.register("snapshots", snapshots[SNAPSHOT_COLUMNS])
        sizes = _sizes_at(con, attributes, probes.cutoffs, snapshots is not None) if wanted & {"firm", "wallet"} \
            else None
        values = _FeatureValues(con, wanted, windows_days, probes, attributes, lines, sizes).compute()
        if sizes is not None:
            values |= _firmographics(con, spine, customers, order, probes, sizes)
    if "wallet" in wanted:
        revenue = values["firm_revenue"]
        values["wallet_spend_to_revenue_365d"] = values["_spend_365d"] / np.where(revenue > 0, revenue, np.nan)
    columns: dict[str, pd.Series | np.ndarray] = {"customer_id": spine["customer_id"], "cutoff": spine["cutoff"]}
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    for feature in catalogue:  # popped one by one and not copied again: one column of extra memory at a time
        columns[feature.name] = _column(values.pop(feature.name)[inverse], feature)
    return pd.DataFrame(columns, copy=False)


# --------------------------------------------------------------------------------------------- inputs


def _require(columns: pd.DataFrame | list[str], required: list[str], name: str) -> None:
    present = columns.columns if isinstance(columns, pd.DataFrame) else columns
    missing = [c for c in required if c not in present]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")


def _check_spine(spine: pd.DataFrame) -> pd.DataFrame:
    _require(spine, SPINE_COLUMNS, "spine")
    cutoffs = pd.to_datetime(spine["cutoff"])
    if (cutoffs != cutoffs.dt.normalize()).any():
        raise ValueError("spine cutoffs must be dates (midnight timestamps)")
    return pd.DataFrame({"customer_id": spine["customer_id"].astype("str"),
                         "cutoff": cutoffs.astype("datetime64[us]")}).reset_index(drop=True)


@contextmanager
def _duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that spills to a temporary folder instead of growing beyond its memory limit."""
    with tempfile.TemporaryDirectory(prefix="kap-duckdb-") as spill:
        con = duckdb.connect(config={"threads": DUCKDB_THREADS, "memory_limit": DUCKDB_MEMORY_LIMIT,
                                     "temp_directory": spill, "preserve_insertion_order": False})
        con.execute("SET enable_progress_bar = false")
        try:
            yield con
        finally:
            con.close()


@dataclass(frozen=True)
class _Lines:
    """The registered view `lines`: whether categories stand in for product ids, and the columns (category,
    product_id) with few enough distinct values to count them with bit masks."""

    products_are_categories: bool
    mask_columns: frozenset[str]

    def distinct_column(self, family: str) -> str:
        """The column whose distinct values the family `categories` or `products` counts."""
        return "product_id" if family == "products" and not self.products_are_categories else "category"


def _register_lines(con: duckdb.DuckDBPyConnection, transactions: TransactionSource) -> _Lines:
    """View `lines` over the transactions (a DataFrame or a Parquet file); categories stand in for missing
    product ids."""
    if isinstance(transactions, pd.DataFrame):
        con.register("source_lines", transactions)
        source = "source_lines"
    else:
        path = Path(transactions).as_posix().replace("'", "''")
        source = f"read_parquet('{path}')"
    present = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    products_are_categories = "product_id" not in present and "category" in present
    _require([*present, "product_id"] if products_are_categories else present, TRANSACTION_COLUMNS, "transactions")
    columns = ["category AS product_id" if products_are_categories and c == "product_id" else c
               for c in TRANSACTION_COLUMNS]
    con.execute(f"CREATE VIEW lines AS SELECT {', '.join(columns)} FROM {source}")
    mask_columns = frozenset(
        column for column in (("category",) if products_are_categories else ("category", "product_id"))
        if len(con.execute(f"SELECT DISTINCT {column} FROM lines LIMIT {MASK_BITS + 1}").fetchall()) <= MASK_BITS)
    return _Lines(products_are_categories, mask_columns)


def _customer_keys(con: duckdb.DuckDBPyConnection, spine: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """Every customer of the lines and the spine, sorted (a customer's position is its integer key), and the
    key of each spine row."""
    con.register("spine_customers", pd.DataFrame({"customer_id": spine["customer_id"], "row": np.arange(len(spine))}))
    con.execute("""
        CREATE TEMP TABLE customer_keys AS
        SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) - 1 AS INTEGER) AS customer
        FROM (SELECT customer_id FROM lines UNION SELECT customer_id FROM spine_customers)
    """)
    ids = con.execute("SELECT customer_id FROM customer_keys ORDER BY customer").fetchnumpy()["customer_id"]
    found = con.execute("SELECT s.row, k.customer FROM spine_customers s JOIN customer_keys k USING (customer_id)"
                        ).fetchnumpy()
    customer = np.empty(len(spine), np.int32)
    customer[found["row"]] = found["customer"]
    return pd.Index(np.asarray(ids, dtype=object).astype(str)), customer


# --------------------------------------------------------------------------------------------- windows


def _key(customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Search key ordering rows by customer, then day."""
    return (customer.astype(np.int64) << 32) | (day.astype(np.int64) + DAY_OFFSET)


class _DayRows:
    """Rows sorted by (customer, day): days with invoices, payment days, days with purchases, ..."""

    def __init__(self, columns: dict[str, np.ndarray], key: np.ndarray | None = None):
        """`columns` hold customer and day (or `key` gives them) and the measures."""
        self.key = _key(columns.pop("customer"), columns.pop("day")) if key is None else key
        self.columns = columns
        self.prefixes: dict[str, np.ndarray] = {}

    def day(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Day of the given rows (all by default)."""
        return (self.key[rows] & 0xFFFFFFFF) - DAY_OFFSET

    def subset(self, rows: np.ndarray) -> _DayRows:
        """The days of `rows` (a boolean mask), without their other columns."""
        return _DayRows({}, self.key[rows])

    def prefix(self, column: str) -> np.ndarray:
        """Sum of `column` over the rows before each position (length rows + 1); it replaces the column,
        which is read only as sums from then on (memory)."""
        if column not in self.prefixes:
            values = self.columns.pop(column)
            prefix = np.empty(len(values) + 1, np.int64)
            prefix[0] = 0
            np.cumsum(values, out=prefix[1:])
            self.prefixes[column] = prefix
        return self.prefixes[column]

    def drop(self, *columns: str) -> None:
        """Free the memory of columns read for the last time."""
        for column in columns:
            self.columns.pop(column, None)
            self.prefixes.pop(column, None)


class _Probes:
    """Points (customer, cutoff day), sorted by customer then cutoff, at which windows are read."""

    def __init__(self, customer: np.ndarray, cutoff_day: np.ndarray):
        self.customer, self.cutoff_day = customer, cutoff_day
        self._customer_key = _key(customer, np.full(len(customer), -DAY_OFFSET))

    @functools.cached_property
    def cutoffs(self) -> np.ndarray:
        """The distinct cutoff days, sorted."""
        return np.unique(self.cutoff_day)

    def key(self, days_before: int | None) -> np.ndarray:
        """Search key of `cutoff - days_before` (None: before every day) per probe."""
        if days_before is None:
            return self._customer_key
        return self._customer_key | (self.cutoff_day - days_before + DAY_OFFSET)

    def windows(self, rows: _DayRows) -> _Windows:
        return _Windows(rows, self)


class _Windows:
    """Windows [cutoff - start, cutoff - end) of each probe over one `_DayRows` (start None: all history)."""

    def __init__(self, rows: _DayRows, probes: _Probes):
        self.rows, self.probes = rows, probes
        self._positions: dict[int | None, np.ndarray] = {}
        self._prefix_at: dict[tuple[str, int | None], np.ndarray] = {}

    def position(self, days_before: int | None) -> np.ndarray:
        """First row at or after `cutoff - days_before` (None: the customer's first row), per probe."""
        if days_before not in self._positions:
            self.prefetch(days_before)
        return self._positions[days_before]

    def prefetch(self, *days_before: int | None) -> None:
        """Find the positions of these boundaries, in parallel (binary searches release the GIL)."""
        missing = [d for d in dict.fromkeys(days_before) if d not in self._positions]
        dtype = np.int32 if len(self.rows.key) < 2**31 else np.int64
        with ThreadPoolExecutor(DUCKDB_THREADS) as pool:
            found = pool.map(lambda d: np.searchsorted(self.rows.key, self.probes.key(d)).astype(dtype), missing)
            self._positions.update(zip(missing, found, strict=True))

    def release(self, *days_before: int | None) -> None:
        """Forget the sums read so far and the row positions of these boundaries (memory); other positions
        are kept for the next family."""
        self._prefix_at.clear()
        for boundary in days_before:
            self._positions.pop(boundary, None)
        _return_freed_memory()

    def count(self, start: int | None, end: int = 0) -> np.ndarray:
        return self.position(end) - self.position(start)

    def sum(self, column: str, start: int | None, end: int = 0) -> np.ndarray:
        return self._sum_before(column, end) - self._sum_before(column, start)

    def _sum_before(self, column: str, days_before: int | None) -> np.ndarray:
        """Sum of `column` over the customer's rows before `cutoff - days_before`, plus the sum over the
        customers before (cancels out in a window's sum); kept until `release`, as windows share bounds."""
        if (column, days_before) not in self._prefix_at:
            self._prefix_at[column, days_before] = self.rows.prefix(column)[self.position(days_before)]
        return self._prefix_at[column, days_before]

    def reduce(self, ufunc: np.ufunc, column: str, start: int | None, end: int = 0, empty: int = 0) -> np.ndarray:
        """Idempotent `ufunc` (maximum, bitwise or) reduced over each window's rows (`empty` for a window
        without rows)."""
        lo, hi = self.position(start), self.position(end)
        values = self.rows.columns[column]
        if len(values) == 0:
            return np.full(len(lo), empty, values.dtype)
        # reduceat needs valid indices: a window that ends with the last row stops one short, then takes it in
        last = len(values) - 1
        reduced = ufunc.reduceat(values, np.minimum(np.column_stack([lo, hi]).ravel(), last))[::2]
        reduced = np.where(hi > last, ufunc(reduced, values[last]), reduced)
        return np.where(hi > lo, reduced, np.asarray(empty, values.dtype))

    def first_day(self, start: int | None, end: int = 0) -> np.ndarray:
        """Day of the first row in the window (NaN if none)."""
        return self._day_at(self.position(start), self.count(start, end) > 0)

    def last_day(self, start: int | None, end: int = 0) -> np.ndarray:
        """Day of the last row in the window (NaN if none)."""
        return self._day_at(self.position(end) - 1, self.count(start, end) > 0)

    def _day_at(self, position: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if len(self.rows.key) == 0:
            return np.full(len(position), np.nan)
        return np.where(valid, self.rows.day(np.clip(position, 0, len(self.rows.key) - 1)), np.nan)


# --------------------------------------------------------------------------------------------- features


class _FeatureValues:
    """The wanted families' values per probe (sorted spine row); names starting with `_` are intermediates."""

    def __init__(self, con: duckdb.DuckDBPyConnection, wanted: set[str], windows_days: tuple[int, ...],
                 probes: _Probes, attributes: pd.DataFrame, lines: _Lines, sizes: dict[str, np.ndarray] | None):
        """`sizes`: `_sizes_at` for the probes' cutoffs (needed by the wallet family)."""
        self.con, self.wanted, self.windows_days, self.probes = con, wanted, windows_days, probes
        self.attributes, self.lines, self.sizes = attributes, lines, sizes
        self.values: dict[str, np.ndarray] = {}

    def compute(self) -> dict[str, np.ndarray]:
        wanted, v = self.wanted, self.values
        if "expansion" in wanted:
            v |= _expansion_shares(self.con, self.probes)
        if not wanted & ROLLUP_FAMILIES:
            return v
        distinct_columns = {self.lines.distinct_column(f) for f in ("categories", "products") if f in wanted}
        cutoffs = self.probes.cutoffs
        # top-category share: segments cut at every cutoff and cutoff - 365 days, so each year is whole segments
        edges = np.unique(np.concatenate([cutoffs - 365, cutoffs])) if "categories" in wanted else None
        rollup = _rollup(self.con, self.lines, distinct_columns, "cadence" in wanted, "payment" in wanted, edges)
        days = rollup.days
        order_rows = days.columns["orders"] > 0  # before the orders are replaced by their prefix sums
        w = self.probes.windows(days)
        if wanted & {"spend", "wallet"}:
            v["_spend_365d"] = _from_units(w.sum("spend", 365))
        if "spend" in wanted:
            self._spend(w)
            # the monthly slope's boundaries are read by nothing else
            w.release(*({30 * k for k in range(1, SLOPE_MONTHS)} - {*self.windows_days, *GROWTH_WINDOWS_DAYS}))
        if "orders" in wanted:
            self._orders(w)
            w.release()
        if "order" in wanted:
            self._order_values(w)
            w.release()
        if "returns" in wanted:
            gross = w.sum("gross", 365)
            returned = gross - w.sum("spend", 365)
            v["returns_share_365d"] = _from_units(returned) / np.where(gross != 0, _from_units(gross), np.nan)
        if wanted & {"spend", "wallet", "relationship"}:
            self._population(days)
        w.release()
        days.drop("spend", "gross", "max_order")  # read for the last time
        if wanted & {"cadence", "recency", "tenure"}:
            self._order_days(days.subset(order_rows), w)
            w.release()
        if "cadence" in wanted:
            self._active_months(days)
        for family in ("categories", "products"):
            if family in wanted:
                self._distinct(family, w)
                w.release()
        if "categories" in wanted:
            self._top_category_share(rollup.category_segments, edges)
        if "payment" in wanted:
            self._payment(self.probes.windows(rollup.paid))
        return v

    def _spend(self, w: _Windows) -> None:
        """Net spend per window, before it, a year before, its growth and monthly slope, and to date."""
        v = self.values
        w.prefetch(None, 0, *self.windows_days, *GROWTH_WINDOWS_DAYS, *(2 * g for g in GROWTH_WINDOWS_DAYS), 90, 275,
                   365, *(30 * k for k in range(SLOPE_MONTHS + 1)))

        def spend(start: int | None, end: int = 0) -> np.ndarray:
            return _from_units(w.sum("spend", start, end))

        for days in self.windows_days:
            v[f"spend_sum_{days}d"] = spend(days)
        for days in GROWTH_WINDOWS_DAYS:
            v[f"spend_sum_prev_{days}d"] = spend(2 * days, days)
            v[f"spend_growth_{days}d"] = _growth(spend(days), v[f"spend_sum_prev_{days}d"])
        v["spend_sum_prev_year_90d"] = spend(365, 275)
        v["spend_growth_yoy_90d"] = _growth(spend(90), v["spend_sum_prev_year_90d"])
        centre = (SLOPE_MONTHS - 1) / 2
        weighted = sum(((SLOPE_MONTHS - k) - centre) * w.sum("spend", 30 * k, 30 * (k - 1))
                       for k in range(1, SLOPE_MONTHS + 1))
        v["spend_slope_365d"] = _from_units(weighted) / sum((t - centre) ** 2 for t in range(SLOPE_MONTHS))
        v["spend_sum_all"] = spend(None)

    def _orders(self, w: _Windows) -> None:
        """Orders per window, before it, their growth, and to date."""
        v = self.values
        w.prefetch(None, 0, *self.windows_days, *GROWTH_WINDOWS_DAYS, *(2 * g for g in GROWTH_WINDOWS_DAYS))
        for days in self.windows_days:
            v[f"orders_count_{days}d"] = w.sum("orders", days)
        for days in GROWTH_WINDOWS_DAYS:
            v[f"orders_count_prev_{days}d"] = w.sum("orders", 2 * days, days)
            v[f"orders_growth_{days}d"] = _growth(w.sum("orders", days), v[f"orders_count_prev_{days}d"])
        v["orders_count_all"] = w.sum("orders", None)

    def _order_values(self, w: _Windows) -> None:
        """Mean and largest order per window, largest to date."""
        v = self.values
        w.prefetch(None, 0, *self.windows_days)
        for days in self.windows_days:
            orders = w.sum("orders", days)
            v[f"order_value_mean_{days}d"] = _from_units(w.sum("gross", days)) / np.where(orders > 0, orders, np.nan)
        for days in (*self.windows_days, None):
            largest = w.reduce(np.maximum, "max_order", days)  # 0 without orders: an order's value is > 0
            v[f"order_value_max_{days}d" if days else "order_value_max_all"] = np.where(
                largest > 0, _from_units(largest), np.nan)

    def _order_days(self, order_days: _DayRows, days_window: _Windows) -> None:
        """Recency, tenure and, for the cadence family, mean days between consecutive orders (to date, last year
        and its change) and the change in days per order."""
        v, w = self.values, self.probes.windows(order_days)
        if "recency" in self.wanted:
            v["recency_days_since_last_order"] = self.probes.cutoff_day - w.last_day(None)
        if "tenure" in self.wanted:
            v["tenure_days_since_first_order"] = self.probes.cutoff_day - w.first_day(None)
        if "cadence" not in self.wanted:
            return
        w.prefetch(None, 0, 365, 730)
        days_window.prefetch(None, 0, 180, 360, 365, 730)

        def mean_gap(start: int | None, end: int = 0) -> np.ndarray:
            """(last order day - first order day) / (orders - 1): the mean gap between consecutive orders."""
            orders = days_window.sum("orders", start, end)
            span = w.last_day(start, end) - w.first_day(start, end)
            return span / np.where(orders > 1, orders - 1, np.nan)

        v["cadence_days_between_orders_all"] = mean_gap(None)
        v["cadence_gap_mean_365d"] = mean_gap(365)
        v["cadence_gap_trend_365d"] = v["cadence_gap_mean_365d"] - mean_gap(730, 365)
        last, before = days_window.sum("orders", 180), days_window.sum("orders", 360, 180)
        v["cadence_days_per_order_trend_180d"] = (180 / np.where(last > 0, last, np.nan)
                                                  - 180 / np.where(before > 0, before, np.nan))

    def _active_months(self, days: _DayRows) -> None:
        """Calendar months with a purchase (a line with amount > 0) in the last 365 days: the window's first
        purchase day opens a month, each later one whose month differs from the previous one's another."""
        purchases = days.subset(days.columns["purchase"])
        month = purchases.day().astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        purchases.columns["new_month"] = np.r_[True, month[1:] != month[:-1]] if len(month) else month
        w = self.probes.windows(purchases)
        first, count = w.position(365), w.count(365)
        prefix = purchases.prefix("new_month")
        later = prefix[first + count] - prefix[np.minimum(first + 1, first + count)]
        self.values["cadence_active_months_365d"] = np.where(count > 0, 1 + later, 0)

    def _distinct(self, family: str, w: _Windows) -> None:
        """Distinct categories (products) bought in the last 365 days, ever, first in the last 90 days, and added
        beyond the opening basket in the last ADDED_WINDOWS_DAYS."""
        column = self.lines.distinct_column(family)
        if column in self.lines.mask_columns:
            # one reduction over all history up to the earliest boundary, then the short segments between them
            # (a reduction from the customer's first row costs that row range again at every cutoff)
            bounds = sorted({90, 365, *ADDED_WINDOWS_DAYS}, reverse=True)
            w.prefetch(None, 0, *bounds)
            mask = f"{column}_mask"
            before = {bounds[0]: w.reduce(np.bitwise_or, mask, None, bounds[0])}
            in_year = np.zeros_like(before[bounds[0]])
            for start, end in itertools.pairwise([*bounds, 0]):
                bought = w.reduce(np.bitwise_or, mask, start, end)
                before[end] = before[start] | bought
                if start <= 365:
                    in_year |= bought
            ever = before[0]
            beyond_opening = ~_opening_basket(w.rows, mask, self.probes)
            counts = {"distinct_365d": np.bitwise_count(in_year), "distinct_all": np.bitwise_count(ever),
                      "new_90d": np.bitwise_count(ever & ~before[90]),
                      **{f"added_{d}d": np.bitwise_count(ever & ~before[d] & beyond_opening)
                         for d in ADDED_WINDOWS_DAYS}}
        else:
            counts = _distinct_by_events(self.con, column, self.probes)
        for measure, count in counts.items():
            self.values[f"{family}_{measure}"] = count

    def _top_category_share(self, rows: dict[str, np.ndarray], edges: np.ndarray) -> None:
        """Share of the purchase value (lines with amount > 0) of the last 365 days in its top category, from
        the value per (customer, category, segment): the year before cutoff c is segments
        position(c - 365) + 1 .. position(c) of the edges."""
        pairs, pair = np.unique(rows["customer"].astype(np.int64) << 32 | rows["category"], return_inverse=True)
        pair_customer = pairs >> 32
        first_pair = np.flatnonzero(np.r_[True, pair_customer[1:] != pair_customer[:-1]])[:len(pairs)]
        position = {day: i for i, day in enumerate(edges)}
        share = np.full(len(self.probes.customer), np.nan)
        for cutoff in self.probes.cutoffs:
            in_year = (rows["segment"] > position[cutoff - 365]) & (rows["segment"] <= position[cutoff])
            # float64 sums of integer units are exact below 2**53
            year = np.bincount(pair[in_year], weights=rows["value"][in_year], minlength=len(pairs))
            top, total = np.zeros(len(self.attributes)), np.zeros(len(self.attributes))
            if len(pairs):
                top[pair_customer[first_pair]] = np.maximum.reduceat(year, first_pair)
                total[pair_customer[first_pair]] = np.add.reduceat(year, first_pair)
            at = np.flatnonzero(self.probes.cutoff_day == cutoff)
            customer = self.probes.customer[at]
            share[at] = top[customer] / np.where(total[customer] > 0, total[customer], np.nan)
        self.values["categories_top_share_365d"] = share

    def _payment(self, w: _Windows) -> None:
        """Mean days to pay and late share of the invoices paid in the window, and the 180-day trend."""
        v = self.values

        def mean_days(start: int, end: int = 0) -> np.ndarray:
            paid = w.sum("paid", start, end)
            return _from_units(w.sum("pay_days", start, end)) / np.where(paid > 0, paid, np.nan)

        v["payment_days_mean_365d"] = mean_days(365)
        v["payment_days_trend_180d"] = mean_days(180) - mean_days(360, 180)
        paid = w.sum("paid", 365)
        v["payment_late_share_365d"] = w.sum("late", 365) / np.where(paid > 0, paid, np.nan)

    def _population(self, days: _DayRows) -> None:
        """Measures relative to ALL customers with an invoice in the window before each spine cutoff (spend
        percentile, industry median spend, owner portfolio), so a customer's value does not depend on which
        other customers the spine holds: training and scoring agree. Every customer is probed at a batch of
        cutoffs at a time, about as many probes as the spine has rows (memory)."""
        names = [f"spend_percentile_{window}d" for window in PERCENTILE_WINDOWS_DAYS if "spend" in self.wanted]
        names += [name for family, name in (("wallet", "wallet_spend_vs_peers_365d"),
                                            ("relationship", "relationship_owner_portfolio_365d"))
                  if family in self.wanted]
        out = {name: np.full(len(self.probes.customer), np.nan) for name in names}
        industry, owner = self.attributes["industry"].to_numpy(), self.attributes["account_owner"].to_numpy()
        everyone = np.arange(len(self.attributes))
        cutoffs = self.probes.cutoffs
        batch_size = max(1, len(self.probes.customer) // max(1, len(everyone)))
        for first in range(0, len(cutoffs), batch_size):
            batch = cutoffs[first:first + batch_size]
            # every customer at every cutoff of the batch, by customer then cutoff: cutoff i's rows are i::len(batch)
            w = _Probes(np.repeat(everyone, len(batch)), np.tile(batch, len(everyone))).windows(days)
            windows = {*PERCENTILE_WINDOWS_DAYS, 365}
            w.prefetch(0, *windows)
            spend = {window: w.sum("spend", window) for window in windows}
            bought = {window: w.count(window) > 0 for window in windows}
            w.release()
            for i, cutoff in enumerate(batch, start=first):
                at = np.flatnonzero(self.probes.cutoff_day == cutoff)
                customer = self.probes.customer[at]
                rows = slice(i - first, None, len(batch))
                if "spend" in self.wanted:
                    for window in PERCENTILE_WINDOWS_DAYS:
                        peers = np.flatnonzero(bought[window][rows])
                        peer_spend = spend[window][rows][peers]
                        percentile = np.zeros(len(everyone))  # 0 without an invoice in the window
                        percentile[peers] = np.searchsorted(np.sort(peer_spend), peer_spend, "right") / len(peers)
                        out[f"spend_percentile_{window}d"][at] = percentile[customer]
                active = bought[365][rows]
                if "wallet" in self.wanted:
                    employees = self.sizes["employees"][:, i]
                    band = np.where(np.isnan(employees), -1, np.searchsorted(PEER_SIZE_BANDS, employees, "right"))
                    peer_spend = pd.Series(_from_units(spend[365][rows][active]))
                    median = (peer_spend.groupby([industry[active], band[active]]).median()
                              .reindex(pd.MultiIndex.from_arrays([industry[customer], band[customer]])).to_numpy())
                    out["wallet_spend_vs_peers_365d"][at] = (self.values["_spend_365d"][at]
                                                             / np.where(median > 0, median, np.nan))
                if "relationship" in self.wanted:
                    portfolio = pd.Series(owner[active]).value_counts().reindex(owner[customer])
                    out["relationship_owner_portfolio_365d"][at] = portfolio.to_numpy(dtype=float)
        self.values |= out


def _return_freed_memory() -> None:
    """Hand freed heap memory back to the operating system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _from_units(units: np.ndarray) -> np.ndarray:
    """Money (or days to pay) from integers of 1/MONEY_SCALE."""
    return units / MONEY_SCALE


def _growth(last: np.ndarray, previous: np.ndarray) -> np.ndarray:
    total = np.abs(last) + np.abs(previous)
    return (last - previous) / np.where(total > 0, total, np.nan)


# --------------------------------------------------------------------------------------------- DuckDB


def _release_duckdb_buffers(con: duckdb.DuckDBPyConnection) -> None:
    """Hand the memory of freed buffers back to the operating system (DuckDB keeps them, up to its memory
    limit, until the limit is lowered) and restore the usual limit."""
    con.execute(f"SET memory_limit = '{DUCKDB_IDLE_MEMORY_LIMIT}'")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    _return_freed_memory()


def _value_positions(con: duckdb.DuckDBPyConnection, column: str) -> str:
    """Registers an ENUM type of the distinct `column` values; returns the expression of a line's value
    position (NULL after the others)."""
    con.execute(f"CREATE TYPE {column}_values AS ENUM ("
                f"SELECT DISTINCT CAST({column} AS VARCHAR) FROM lines WHERE {column} IS NOT NULL)")
    known = con.execute(f"SELECT len(enum_range(NULL::{column}_values))").fetchone()[0]
    return f"coalesce(enum_code(CAST({column} AS VARCHAR)::{column}_values), {known})"


@dataclass
class _Rollup:
    """Rows per (customer, invoice day), per (customer, payment day) and, when asked, the purchase value per
    (customer, category, segment)."""

    days: _DayRows
    paid: _DayRows
    category_segments: dict[str, np.ndarray]


def _rollup(con: duckdb.DuckDBPyConnection, lines: _Lines, distinct_columns: set[str], with_purchases: bool,
            with_payments: bool, segment_edges: np.ndarray | None) -> _Rollup:
    """One pass over the lines, chunk by chunk of whole days (small hash tables that need not spill): lines
    into invoices, invoices per (customer, day) and per (customer, payment day), and with `segment_edges` the
    purchase value per (customer, category, segment), segment s holding the days in [edges[s-1], edges[s]).
    An invoice is the lines of one (customer, invoice_id, day); an order one with a positive value. With
    `with_purchases` a day also tells whether it had a purchase (a line with amount > 0)."""
    masks = sorted(distinct_columns & lines.mask_columns)
    with_segments = segment_edges is not None
    positions = {c: _value_positions(con, c) for c in {*masks, *(["category"] if with_segments else [])}}
    line_columns = "".join([
        ", days_to_pay" if with_payments else "",
        *(f", CAST(1::UBIGINT << {positions[c]} AS UBIGINT) AS {c}_bit" for c in masks),
        f", CAST({positions['category']} AS INTEGER) AS category" if with_segments else ""])
    invoice_columns = "".join([
        ", bool_or(purchase) AS purchase" if with_purchases else "",
        ", max(days_to_pay) AS days_to_pay" if with_payments else "",
        *(f", bit_or({c}_bit) FILTER (purchase) AS {c}_mask" for c in masks)])
    day_masks = "".join(f", coalesce(bit_or({c}_mask), 0::UBIGINT) AS {c}_mask" for c in masks)
    day_columns = ["spend", "gross", "orders", "max_order", *(["purchase"] if with_purchases else []),
                   *(f"{c}_mask" for c in masks)]
    parts: dict[str, list[dict]] = {"days": [], "paid": [], "segments": []}
    con.execute(f"SET memory_limit = '{DUCKDB_ROLLUP_MEMORY_LIMIT}'")
    for first, last in _chunks(con):
        # the chunk's lines are read from the source once, with integer customer keys
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE chunk_lines AS
            SELECT k.customer, l.invoice_id, CAST(CAST(l.timestamp AS DATE) - DATE '1970-01-01' AS INTEGER) AS day,
                   CAST(CAST(l.amount AS DECIMAL(18, 4)) * {MONEY_SCALE} AS BIGINT) AS units,
                   l.amount > 0 AS purchase{line_columns}
            FROM lines l JOIN customer_keys k USING (customer_id)
            WHERE l.timestamp >= DATE '{first}' AND l.timestamp < DATE '{last}'
        """)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE chunk_invoices AS
            SELECT customer, day, CAST(sum(units) AS BIGINT) AS value{invoice_columns}
            FROM chunk_lines GROUP BY customer, invoice_id, day
        """)
        parts["days"].append(con.execute(f"""
            SELECT customer, CAST(day AS INTEGER) AS day, CAST(sum(value) AS BIGINT) AS spend,
                   CAST(sum(greatest(value, 0)) AS BIGINT) AS gross, CAST(count(*) FILTER (value > 0) AS INTEGER)
                   AS orders, max(greatest(value, 0)) AS max_order
                   {", bool_or(purchase) AS purchase" if with_purchases else ""}{day_masks}
            FROM chunk_invoices GROUP BY customer, day ORDER BY customer, day
        """).fetchnumpy())
        if with_payments:
            parts["paid"].append(con.execute(f"""
                WITH paid AS (
                    SELECT customer, CAST(days_to_pay AS DECIMAL(18, 4)) AS days_to_pay,
                           day + CAST(ceil(CAST(days_to_pay AS DECIMAL(18, 4))) AS INTEGER) AS day
                    FROM chunk_invoices WHERE value > 0 AND days_to_pay IS NOT NULL
                )
                SELECT customer, CAST(day AS INTEGER) AS day, CAST(sum(days_to_pay) * {MONEY_SCALE} AS BIGINT)
                       AS pay_days, CAST(count(*) AS INTEGER) AS paid,
                       CAST(count(*) FILTER (days_to_pay > {LATE_PAYMENT_DAYS}) AS INTEGER) AS late
                FROM paid GROUP BY customer, day
            """).fetchnumpy())
        if with_segments:
            parts["segments"].append(_category_segments(con, segment_edges))
    con.execute("DROP TABLE IF EXISTS chunk_invoices; DROP TABLE IF EXISTS chunk_lines")
    _release_duckdb_buffers(con)
    return _Rollup(_DayRows(_concatenate(parts["days"], day_columns)),
                   _DayRows(_concatenate(parts["paid"], ["pay_days", "paid", "late"])),
                   _concatenate(parts["segments"], ["category", "segment", "value"], sort=False))


def _chunks(con: duckdb.DuckDBPyConnection) -> list[tuple[dt.date, dt.date]]:
    """[first, last) day ranges of about LINES_PER_CHUNK lines each (of equal length in time)."""
    first, last, count = con.execute(
        "SELECT CAST(min(timestamp) AS DATE), CAST(max(timestamp) AS DATE) + 1, count(*) FROM lines").fetchone()
    if not count:
        return []
    n_chunks, span = -(-count // LINES_PER_CHUNK), (last - first).days
    cuts = sorted({first + dt.timedelta(days=span * i // n_chunks) for i in range(n_chunks)} | {last})
    return list(itertools.pairwise(cuts))


def _concatenate(parts: list[dict], columns: list[str], sort: bool = True) -> dict[str, np.ndarray]:
    """The chunks' rows as one set of arrays, sorted by (customer, day) unless `sort` is false."""
    names = ["customer", *(["day"] if sort else []), *columns]
    if not parts:
        return {name: np.zeros(0, np.int64) for name in names}
    # column by column, dropping the parts' copy as it goes: one column of extra memory at a time
    joined = {name: np.concatenate([np.asarray(part.pop(name)) for part in parts]) for name in names}
    parts.clear()
    if sort:  # each chunk is sorted already: a stable sort merges the runs
        order = np.argsort(_key(joined["customer"], joined["day"]), kind="stable")
        for name in names:
            joined[name] = joined[name][order]
    return joined


def _category_segments(con: duckdb.DuckDBPyConnection, edges: np.ndarray) -> dict:
    """Purchase value (lines with amount > 0) per (customer, category position, segment) of the chunk."""
    segment = " + ".join(f"CAST(day >= {int(e)} AS INTEGER)" for e in edges)
    return con.execute(f"""
        SELECT customer, category, {segment} AS segment, CAST(sum(units) AS BIGINT) AS value
        FROM chunk_lines WHERE purchase AND day >= {int(edges[0])} AND day < {int(edges[-1])}
        GROUP BY ALL
    """).fetchnumpy()


def _opening_basket(rows: _DayRows, mask: str, probes: _Probes) -> np.ndarray:
    """Per probe, the bit mask of its customer's first purchase day (0 without purchases; a first purchase on or
    after the cutoff does no harm: nothing bought then is counted)."""
    values = rows.columns[mask]
    bought = np.flatnonzero(values != 0)
    customer = rows.key[bought] >> 32
    first = bought[np.diff(customer, prepend=-1) != 0]  # rows are sorted by customer, then day
    opening = np.zeros(max(customer.max(initial=-1), probes.customer.max(initial=-1)) + 1, values.dtype)
    opening[rows.key[first] >> 32] = values[first]  # customer keys are positions 0, 1, ...
    return opening[probes.customer]


def _distinct_by_events(con: duckdb.DuckDBPyConnection, column: str, probes: _Probes) -> dict[str, np.ndarray]:
    """Distinct values of `column` bought in the last 365 days, ever, for the first time in the last 90 days,
    and added beyond the opening basket (first bought after the customer's first purchase day) in the last
    ADDED_WINDOWS_DAYS, for values too many for bit masks.

    Each (customer, value) is active for cutoffs in (first purchase day, last purchase day + 365] of each run
    of purchases no more than 365 days apart; +1/-1 events at those days, summed up to the cutoff, count the
    active values without joining every cutoff to every value."""
    windows = {"new_90d": 90} | {f"added_{d}d": d for d in ADDED_WINDOWS_DAYS}
    counted = {"new_90d": "1"} | {n: "CAST(added AS INTEGER)" for n in windows if n != "new_90d"}

    def window_columns(values: dict[str, str]) -> str:
        return "".join(f', {values.get(n, "0")} AS "{n}"' for n in windows)

    window_ends = "".join(f"""
            UNION ALL SELECT customer_id, first_day + {days + 1}, 0, 0{window_columns({n: "-" + counted[n]})}
            FROM firsts""" for n, days in windows.items())
    counts = con.execute(f"""
        WITH purchase_days AS (
            SELECT DISTINCT customer_id, {column} AS value, CAST(timestamp AS DATE) - DATE '1970-01-01' AS day
            FROM lines WHERE amount > 0
        ), gaps AS (
            SELECT *, CASE WHEN lag(day) OVER (PARTITION BY customer_id, value ORDER BY day) >= day - 365
                           THEN 0 ELSE 1 END AS new_run
            FROM purchase_days
        ), runs AS (
            SELECT *, sum(new_run) OVER (PARTITION BY customer_id, value ORDER BY day) AS run FROM gaps
        ), spans AS (
            SELECT customer_id, value, min(day) AS first_day, max(day) AS last_day
            FROM runs GROUP BY customer_id, value, run
        ), firsts AS (
            SELECT customer_id, min(first_day) AS first_day,
                   min(first_day) > min(min(first_day)) OVER (PARTITION BY customer_id) AS added
            FROM spans GROUP BY customer_id, value
        ), events AS (
            SELECT customer_id, first_day + 1 AS day, 1 AS d365, 0 AS d_all{window_columns({})} FROM spans
            UNION ALL SELECT customer_id, last_day + 366, -1, 0{window_columns({})} FROM spans
            UNION ALL SELECT customer_id, first_day + 1, 0, 1{window_columns(counted)} FROM firsts{window_ends}
        )
        SELECT k.customer, e.day, CAST(sum(d365) AS BIGINT) AS d365, CAST(sum(d_all) AS BIGINT) AS d_all
               {''.join(f', CAST(sum(e."{n}") AS BIGINT) AS "{n}"' for n in windows)}
        FROM events e JOIN customer_keys k USING (customer_id)
        GROUP BY ALL ORDER BY k.customer, e.day
    """).fetchnumpy()
    events = probes.windows(_DayRows(dict(counts)))
    # events on the cutoff day itself already apply (they are dated the day after the purchase)
    return {"distinct_365d": events.sum("d365", None, -1), "distinct_all": events.sum("d_all", None, -1),
            **{n: events.sum(n, None, -1) for n in windows}}


def _sizes_at(con: duckdb.DuckDBPyConnection, attributes: pd.DataFrame, cutoff_days: np.ndarray,
              with_snapshots: bool) -> dict[str, np.ndarray]:
    """Employees and annual revenue of every customer (rows, in key order) at each cutoff (columns): from the
    latest registered snapshot valid from strictly before the cutoff (NaN without one), or, without snapshots,
    the customers table's values at every cutoff."""
    shape = (len(attributes), len(cutoff_days))
    if not with_snapshots:
        return {c: np.broadcast_to(pd.to_numeric(attributes[c]).to_numpy(dtype=float)[:, None], shape)
                for c in SIZE_COLUMNS}
    con.register("size_cutoffs", pd.DataFrame({"position": np.arange(len(cutoff_days)),
                                               "cutoff": cutoff_days.astype("datetime64[D]").astype("datetime64[us]")}))
    found = con.execute(f"""
        SELECT k.customer, c.position, {", ".join(f"CAST(f.{c} AS DOUBLE) AS {c}" for c in SIZE_COLUMNS)}
        FROM customer_keys k CROSS JOIN size_cutoffs c
        ASOF LEFT JOIN snapshots f ON f.customer_id = k.customer_id AND c.cutoff > CAST(f.valid_from AS TIMESTAMP)
    """).fetchnumpy()
    sizes = {c: np.full(shape, np.nan) for c in SIZE_COLUMNS}
    for c in SIZE_COLUMNS:
        sizes[c][found["customer"], found["position"]] = np.ma.filled(np.ma.asarray(found[c], dtype=float), np.nan)
    return sizes


def _firmographics(con: duckdb.DuckDBPyConnection, spine: pd.DataFrame, customers: pd.DataFrame, order: np.ndarray,
                   probes: _Probes, sizes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Firm attributes at each cutoff, per sorted spine row (= probe): size from `sizes`, the rest from the
    customers table."""
    con.register("spine", spine.assign(position=np.argsort(order)))
    con.register("customers", customers[[*CUSTOMER_COLUMNS, "account_owner"]])
    frame = con.execute(
        """
        SELECT CASE WHEN c.founded_year <= year(s.cutoff) THEN year(s.cutoff) - c.founded_year END
                   AS firm_age_years,
               c.credit_rating,
               c.industry AS firm_industry, c.country AS firm_country, c.region AS firm_region,
               c.acquisition_channel AS firm_channel
        FROM spine s
        LEFT JOIN customers c ON c.customer_id = s.customer_id
        ORDER BY s.position
        """
    ).df()
    values = {name: frame[name].to_numpy() for name in frame.columns if name != "credit_rating"}
    values["firm_credit_score"] = frame["credit_rating"].map(CREDIT_SCORES).to_numpy(dtype=float)
    at = (probes.customer, np.searchsorted(probes.cutoffs, probes.cutoff_day))
    values["firm_employees"] = sizes["employees"][at]
    values["firm_revenue"] = sizes["annual_revenue"][at]
    return values


def _column(values: np.ndarray, feature: FeatureDef) -> np.ndarray | pd.Series:
    """float64 for numbers, str for categories (missing as NaN)."""
    if feature.kind == "categorical":
        series = pd.Series(values)
        return series.astype("str").where(series.notna(), np.nan)
    return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype="float64")


def _expansion_shares(con: duckdb.DuckDBPyConnection, probes: _Probes) -> dict[str, np.ndarray]:
    """Share of the purchase lines, and of their value, in the last EXPANSION_WINDOWS_DAYS that went to categories
    first bought in the last EXPANSION_LOOKBACK_DAYS, after the customer's first purchase day.

    The denominators are window sums over purchase days. A line in a category added on day a counts in the
    numerator only while the category is newly added: a line of day d counts for the cutoffs in
    (d, min(d + w, a + lookback)], so +/- events at those days, summed up to the cutoff, count these lines
    without joining every cutoff to every line (as `_distinct_by_events`). Customers are taken a bucket at a
    time, about LINES_PER_CHUNK lines each (every bucket holds whole histories; small tables that need not spill)."""
    numerators = [f"added_{measure}_{w}" for w in EXPANSION_WINDOWS_DAYS for measure in ("lines", "units")]

    def event(day: str, sign: str, windows: tuple[int, ...]) -> str:
        columns = "".join(f', {sign + measure if w in windows else "0"} AS "added_{measure}_{w}"'
                          for w in EXPANSION_WINDOWS_DAYS for measure in ("lines", "units"))
        return f"SELECT customer, {day} AS day{columns} FROM added_days"

    events = " UNION ALL ".join([event("day + 1", "", EXPANSION_WINDOWS_DAYS), *(
        event(f"least(day + {w}, added_until) + 1", "-", (w,)) for w in EXPANSION_WINDOWS_DAYS)])
    n_buckets = max(1, -(-con.execute("SELECT count(*) FROM lines").fetchone()[0] // LINES_PER_CHUNK))
    parts: dict[str, list[dict]] = {"purchases": [], "added": []}
    for bucket in range(n_buckets):
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE category_days AS
            SELECT k.customer, l.category, CAST(CAST(l.timestamp AS DATE) - DATE '1970-01-01' AS INTEGER) AS day,
                   CAST(count(*) AS BIGINT) AS lines,
                   CAST(sum(CAST(CAST(l.amount AS DECIMAL(18, 4)) * {MONEY_SCALE} AS BIGINT)) AS BIGINT) AS units
            FROM lines l JOIN customer_keys k USING (customer_id)
            WHERE l.amount > 0 AND k.customer % {n_buckets} = {bucket}
            GROUP BY ALL
        """)
        parts["purchases"].append(con.execute("""
            SELECT customer, day, CAST(sum(lines) AS BIGINT) AS lines, CAST(sum(units) AS BIGINT) AS units
            FROM category_days GROUP BY customer, day ORDER BY customer, day
        """).fetchnumpy())
        parts["added"].append(con.execute(f"""
            WITH firsts AS (
                SELECT customer, category, min(day) AS first_day FROM category_days GROUP BY ALL
            ), newly_added AS (
                SELECT customer, category, first_day + {EXPANSION_LOOKBACK_DAYS} AS added_until
                FROM (SELECT *, min(first_day) OVER (PARTITION BY customer) AS customer_first_day FROM firsts)
                WHERE first_day > customer_first_day
            ), added_days AS (
                SELECT c.customer, c.day, n.added_until, c.lines, c.units
                FROM category_days c JOIN newly_added n
                    ON c.customer = n.customer AND c.category IS NOT DISTINCT FROM n.category
                WHERE c.day < n.added_until
            ), events AS ({events})
            SELECT customer, CAST(day AS INTEGER) AS day
                   {"".join(f', CAST(sum("{c}") AS BIGINT) AS "{c}"' for c in numerators)}
            FROM events GROUP BY customer, day ORDER BY customer, day
        """).fetchnumpy())
    con.execute("DROP TABLE IF EXISTS category_days")
    in_window = probes.windows(_DayRows(_concatenate(parts["purchases"], ["lines", "units"])))
    newly = probes.windows(_DayRows(_concatenate(parts["added"], numerators)))
    shares = {}
    for w in EXPANSION_WINDOWS_DAYS:
        lines, units = in_window.sum("lines", w), in_window.sum("units", w)
        # events on the cutoff day itself already apply (they are dated the day after the purchase)
        shares[f"expansion_line_share_{w}d"] = newly.sum(f"added_lines_{w}", None, -1) / np.where(
            lines > 0, lines, np.nan)
        shares[f"expansion_spend_share_{w}d"] = newly.sum(f"added_units_{w}", None, -1) / np.where(
            units > 0, units, np.nan)
    return shares
