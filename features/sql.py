"""Every DuckDB query of the feature builder: the lines view, customer keys, the per-day rollup, and the
queries of the families that read the lines or tables directly (distinct values by events, expansion events,
firm sizes from snapshots, firm attributes).

Money is carried as integers of 1/MONEY_SCALE (read as DECIMAL(18, 4)), so sums are exact and never depend on
summation order. Results come back as numpy arrays, rows per (customer, day) as `DayRows`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.windows import THREADS, DayRows, return_freed_memory, search_key

MONEY_SCALE = 10_000  # money as integers of 1/10 000, the DECIMAL(18, 4) the amounts are read as
MASK_BITS = 64  # up to this many distinct categories (products) are counted with bit masks, more with events
LINES_PER_CHUNK = 2_000_000  # lines are rolled up chunk by chunk of whole days, about this many at a time
DUCKDB_MEMORY_LIMIT = "512MB"  # DuckDB spills to a temporary folder beyond this
DUCKDB_ROLLUP_MEMORY_LIMIT = "1GB"  # during the rollup (chunked to fit), before numpy's arrays take the memory
DUCKDB_IDLE_MEMORY_LIMIT = "64MB"  # set for a moment after the rollup, so DuckDB frees the buffers it keeps

TransactionSource = pd.DataFrame | str | Path


@contextmanager
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that spills to a temporary folder instead of growing beyond its memory limit."""
    with tempfile.TemporaryDirectory(prefix="kap-duckdb-") as spill:
        con = duckdb.connect(config={"threads": THREADS, "memory_limit": DUCKDB_MEMORY_LIMIT,
                                     "temp_directory": spill, "preserve_insertion_order": False})
        con.execute("SET enable_progress_bar = false")
        try:
            yield con
        finally:
            con.close()


def source_columns(con: duckdb.DuckDBPyConnection, transactions: TransactionSource) -> tuple[str, list[str]]:
    """The transactions as a relation name for SQL (a registered DataFrame or a Parquet file) and its columns."""
    if isinstance(transactions, pd.DataFrame):
        con.register("source_lines", transactions)
        source = "source_lines"
    else:
        path = Path(transactions).as_posix().replace("'", "''")
        source = f"read_parquet('{path}')"
    return source, [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]


@dataclass(frozen=True)
class Lines:
    """The registered view `lines`: whether categories stand in for product ids, and the columns (category,
    product_id) with few enough distinct values to count them with bit masks."""

    products_are_categories: bool
    mask_columns: frozenset[str]

    def distinct_column(self, family: str) -> str:
        """The column whose distinct values the family `categories` or `products` counts."""
        return "product_id" if family == "products" and not self.products_are_categories else "category"


def register_lines(con: duckdb.DuckDBPyConnection, source: str, columns: list[str],
                   products_are_categories: bool) -> Lines:
    """View `lines` of these columns over the source; with `products_are_categories`, categories stand in for
    the missing product ids."""
    selected = ["category AS product_id" if products_are_categories and c == "product_id" else c for c in columns]
    con.execute(f"CREATE VIEW lines AS SELECT {', '.join(selected)} FROM {source}")
    mask_columns = frozenset(
        column for column in (("category",) if products_are_categories else ("category", "product_id"))
        if len(con.execute(f"SELECT DISTINCT {column} FROM lines LIMIT {MASK_BITS + 1}").fetchall()) <= MASK_BITS)
    return Lines(products_are_categories, mask_columns)


def customer_keys(con: duckdb.DuckDBPyConnection, spine: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
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


# --------------------------------------------------------------------------------------------- rollup


@dataclass(frozen=True)
class RollupRequest:
    """What the wanted families read off the rollup: the columns whose distinct values are counted with bit
    masks, whether a day tells if it had a purchase, the payment days (invoices paid after more than
    `late_payment_days` count as late) and the category segments cut at `segment_edges`."""

    mask_columns: frozenset[str]
    purchases: bool
    payments: bool
    late_payment_days: int
    segment_edges: np.ndarray | None


@dataclass
class Rollup:
    """Rows per (customer, invoice day), per (customer, payment day) and, when asked, the purchase value per
    (customer, category, segment)."""

    days: DayRows
    paid: DayRows
    category_segments: dict[str, np.ndarray]


def rollup(con: duckdb.DuckDBPyConnection, request: RollupRequest) -> Rollup:
    """One pass over the lines, chunk by chunk of whole days (small hash tables that need not spill): lines
    into invoices, invoices per (customer, day) and per (customer, payment day), and with segment edges the
    purchase value per (customer, category, segment), segment s holding the days in [edges[s-1], edges[s]).
    An invoice is the lines of one (customer, invoice_id, day); an order one with a positive value. With
    `purchases` a day also tells whether it had a purchase (a line with amount > 0)."""
    masks = sorted(request.mask_columns)
    with_segments = request.segment_edges is not None
    with_purchases, with_payments = request.purchases, request.payments
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
                       CAST(count(*) FILTER (days_to_pay > {request.late_payment_days}) AS INTEGER) AS late
                FROM paid GROUP BY customer, day
            """).fetchnumpy())
        if with_segments:
            parts["segments"].append(_category_segments(con, request.segment_edges))
    con.execute("DROP TABLE IF EXISTS chunk_invoices; DROP TABLE IF EXISTS chunk_lines")
    _release_duckdb_buffers(con)
    return Rollup(DayRows(_concatenate(parts["days"], day_columns)),
                  DayRows(_concatenate(parts["paid"], ["pay_days", "paid", "late"])),
                  _concatenate(parts["segments"], ["category", "segment", "value"], sort=False))


def _release_duckdb_buffers(con: duckdb.DuckDBPyConnection) -> None:
    """Hand the memory of freed buffers back to the operating system (DuckDB keeps them, up to its memory
    limit, until the limit is lowered) and restore the usual limit."""
    con.execute(f"SET memory_limit = '{DUCKDB_IDLE_MEMORY_LIMIT}'")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    return_freed_memory()


def _value_positions(con: duckdb.DuckDBPyConnection, column: str) -> str:
    """Registers an ENUM type of the distinct `column` values; returns the expression of a line's value
    position (NULL after the others)."""
    con.execute(f"CREATE TYPE {column}_values AS ENUM ("
                f"SELECT DISTINCT CAST({column} AS VARCHAR) FROM lines WHERE {column} IS NOT NULL)")
    known = con.execute(f"SELECT len(enum_range(NULL::{column}_values))").fetchone()[0]
    return f"coalesce(enum_code(CAST({column} AS VARCHAR)::{column}_values), {known})"


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
        order = np.argsort(search_key(joined["customer"], joined["day"]), kind="stable")
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


# --------------------------------------------------------------------------------------------- families' queries


def distinct_events(con: duckdb.DuckDBPyConnection, column: str, new_days: int,
                    added_days: tuple[int, ...]) -> DayRows:
    """+1/-1 events per (customer, day) whose sums up to a cutoff count the distinct values of `column` bought
    in the last 365 days (`d365`), ever (`d_all`), for the first time in the last `new_days` (`new_<d>d`), and
    added beyond the opening basket (first bought after the customer's first purchase day) in the last
    `added_days` (`added_<d>d`), for values too many for bit masks.

    Each (customer, value) is active for cutoffs in (first purchase day, last purchase day + 365] of each run
    of purchases no more than 365 days apart; events at those days count the active values without joining
    every cutoff to every value. Events are dated the day after the purchase."""
    windows = {f"new_{new_days}d": new_days} | {f"added_{d}d": d for d in added_days}
    counted = {f"new_{new_days}d": "1"} | {f"added_{d}d": "CAST(added AS INTEGER)" for d in added_days}

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
    return DayRows(dict(counts))


def expansion_events(con: duckdb.DuckDBPyConnection, windows_days: tuple[int, ...],
                     lookback_days: int) -> tuple[DayRows, DayRows]:
    """Purchase lines and their value (`lines`, `units`) per (customer, day), and +/- events per (customer, day)
    whose sums up to a cutoff give those of the last w days (each of `windows_days`) that went to categories
    first bought in the last `lookback_days`, after the customer's first purchase day (`added_lines_<w>`,
    `added_units_<w>`).

    A line in a category added on day a counts only while the category is newly added: a line of day d counts
    for the cutoffs in (d, min(d + w, a + lookback)], so events at those days (dated the day after the line)
    count these lines without joining every cutoff to every line (as `distinct_events`). Customers are taken a
    bucket at a time, about LINES_PER_CHUNK lines each (every bucket holds whole histories; small tables that
    need not spill)."""
    numerators = [f"added_{measure}_{w}" for w in windows_days for measure in ("lines", "units")]

    def event(day: str, sign: str, windows: tuple[int, ...]) -> str:
        columns = "".join(f', {sign + measure if w in windows else "0"} AS "added_{measure}_{w}"'
                          for w in windows_days for measure in ("lines", "units"))
        return f"SELECT customer, {day} AS day{columns} FROM added_days"

    events = " UNION ALL ".join([event("day + 1", "", windows_days), *(
        event(f"least(day + {w}, added_until) + 1", "-", (w,)) for w in windows_days)])
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
                SELECT customer, category, first_day + {lookback_days} AS added_until
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
    return (DayRows(_concatenate(parts["purchases"], ["lines", "units"])),
            DayRows(_concatenate(parts["added"], numerators)))


def sizes_from_snapshots(con: duckdb.DuckDBPyConnection, n_customers: int, cutoff_days: np.ndarray,
                         columns: list[str]) -> dict[str, np.ndarray]:
    """`columns` of every customer (rows, in key order) at each cutoff (columns) from the latest row of the
    registered table `snapshots` valid from strictly before the cutoff (NaN without one)."""
    con.register("size_cutoffs", pd.DataFrame({"position": np.arange(len(cutoff_days)),
                                               "cutoff": cutoff_days.astype("datetime64[D]").astype("datetime64[us]")}))
    found = con.execute(f"""
        SELECT k.customer, c.position, {", ".join(f"CAST(f.{c} AS DOUBLE) AS {c}" for c in columns)}
        FROM customer_keys k CROSS JOIN size_cutoffs c
        ASOF LEFT JOIN snapshots f ON f.customer_id = k.customer_id AND c.cutoff > CAST(f.valid_from AS TIMESTAMP)
    """).fetchnumpy()
    sizes = {c: np.full((n_customers, len(cutoff_days)), np.nan) for c in columns}
    for c in columns:
        sizes[c][found["customer"], found["position"]] = np.ma.filled(np.ma.asarray(found[c], dtype=float), np.nan)
    return sizes


def firm_attributes(con: duckdb.DuckDBPyConnection, spine: pd.DataFrame, customers: pd.DataFrame,
                    position: np.ndarray) -> pd.DataFrame:
    """Age at the cutoff, credit rating, industry, country, region and acquisition channel per spine row, in
    the order of `position` (each spine row's rank)."""
    con.register("spine", spine.assign(position=position))
    con.register("customers", customers)
    return con.execute(
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
