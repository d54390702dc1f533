"""Point-in-time feature snapshots: DuckDB rolls the lines up once, numpy reads every cutoff off the rollup.

One builder for training and scoring: the caller passes a spine of (customer_id, cutoff) rows (many cutoffs
for training, one as-of date for scoring) and gets one feature row per spine row.

Design (the cost is one pass over the lines, whatever the number of cutoffs and windows):

1. DuckDB reads the lines (a Parquet file directly, or a DataFrame), groups them into invoices and rolls the
   invoices up into one row per customer and day (net spend, gross value, orders, largest order, a bit mask
   of the categories bought) and one row per customer and payment day (`features.sql`).
2. numpy keeps those rows sorted by (customer, day). A spine row's window [cutoff - w, cutoff) is the row
   range between two binary searches (`features.windows`). Extra cutoffs and windows cost binary searches over
   the small rollup, not another pass over the lines.
3. Each wanted family (`features/families/`) computes its features off what it reads; what no family still to
   run reads is freed as each family ends.

Point-in-time rule: a cutoff `t` is a midnight timestamp; only transaction lines with `timestamp < t` are
used, a payment counts only once its payment date is before `t`, and a firmographic snapshot only if its
`valid_from < t`. Missing history: sums and counts are 0, means, ratios, maxima and recency are NaN.
Families not asked for are not computed.
"""

from __future__ import annotations

import functools
from collections import Counter

import duckdb
import numpy as np
import pandas as pd

from features import sql
from features.catalogue import Family, FeatureDef, feature_catalogue, wanted_families
from features.families import payment
from features.population import population_rows
from features.tables import Customers, Firmographics, Spine, Transactions, column_names, required_columns
from features.windows import DayRows, EveryCustomer, Probes, Windows

SPINE_COLUMNS = column_names(Spine)
TRANSACTION_COLUMNS = required_columns(Transactions)
CUSTOMER_COLUMNS = required_columns(Customers)
SNAPSHOT_COLUMNS = column_names(Firmographics)
SIZE_COLUMNS = SNAPSHOT_COLUMNS[2:]  # firm size: from snapshots as of the cutoff, or the customers table


def build_features(
    transactions: sql.TransactionSource,
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
    return _build(transactions, customers, spine, windows_days, snapshots, families, None)[0]


def build_bucket_features(
    transactions: sql.TransactionSource,
    customers: pd.DataFrame,
    spine: pd.DataFrame,
    cutoffs: np.ndarray,
    windows_days: tuple[int, ...] = (90, 180, 365),
    snapshots: pd.DataFrame | None = None,
    families: tuple[str, ...] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`build_features` for one bucket of customers (every line, spine row and snapshot of its customers; the
    spine may be empty), and the bucket's share of the population (`features.population.population_rows`) at
    every day of `cutoffs` (the whole spine's cutoff days). The population-level features in the first frame
    compare with the bucket's customers only: `features.population.population_features` computes them over
    every bucket's population."""
    return _build(transactions, customers, spine, windows_days, snapshots, families, cutoffs)


def _build(transactions: sql.TransactionSource, customers: pd.DataFrame, spine: pd.DataFrame,
           windows_days: tuple[int, ...], snapshots: pd.DataFrame | None, families: tuple[str, ...] | None,
           population_cutoffs: np.ndarray | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The feature snapshot and, with `population_cutoffs`, the population rows at those cutoff days."""
    catalogue = feature_catalogue(windows_days, families)
    _require(customers, CUSTOMER_COLUMNS, "customers")
    spine = _check_spine(spine)
    if "account_owner" not in customers.columns:
        customers = customers.assign(account_owner=None)
    with sql.connection() as con:
        source, present = sql.source_columns(con, transactions)
        products_are_categories = "product_id" not in present and "category" in present
        _require([*present, "product_id"] if products_are_categories else present, TRANSACTION_COLUMNS,
                 "transactions")
        lines = sql.register_lines(con, source, TRANSACTION_COLUMNS, products_are_categories)
        keys, customer = sql.customer_keys(con, spine)
        cutoff_day = spine["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64)
        order = np.lexsort((cutoff_day, customer))  # probes sorted by customer, then cutoff
        probes = Probes(customer[order], cutoff_day[order], population_cutoffs)
        if np.any(np.diff(probes.key(0)) == 0):
            raise ValueError("spine has duplicated (customer_id, cutoff) rows")
        if snapshots is not None:
            _require(snapshots, SNAPSHOT_COLUMNS, "snapshots")
            con.register("snapshots", snapshots[SNAPSHOT_COLUMNS])
        sources = Sources(con, lines, probes, windows_days, spine, customers, order, snapshots is not None,
                          attributes=customers.drop_duplicates("customer_id").set_index("customer_id").reindex(keys))
        with_population = population_cutoffs is not None
        values = sources.compute(wanted_families(families), keep=frozenset({"spend"} if with_population else ()))
        rows = population_rows(sources, keys, probes.customer) if with_population else None
    columns: dict[str, pd.Series | np.ndarray] = {"customer_id": spine["customer_id"], "cutoff": spine["cutoff"]}
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    for feature in catalogue:  # popped one by one and not copied again: one column of extra memory at a time
        columns[feature.name] = _column(values.pop(feature.name)[inverse], feature)
    return pd.DataFrame(columns, copy=False), rows


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


def _column(values: np.ndarray, feature: FeatureDef) -> np.ndarray | pd.Series:
    """float64 for numbers, str for categories (missing as NaN)."""
    if feature.kind == "categorical":
        series = pd.Series(values)
        return series.astype("str").where(series.notna(), np.nan)
    return pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype="float64")


class Sources:
    """What the families read, per probe (spine row sorted by customer, then cutoff), each made when a family
    first asks for it and freed once no family still to run reads it (as declared in the families' READS)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, lines: sql.Lines, probes: Probes,
                 windows_days: tuple[int, ...], spine: pd.DataFrame, customers: pd.DataFrame, order: np.ndarray,
                 with_snapshots: bool, attributes: pd.DataFrame):
        """`order`: the spine rows in probe order; `attributes`: the customers table per customer key."""
        self.con, self.lines, self.probes, self.windows_days = con, lines, probes, windows_days
        self.spine, self.customers, self.order = spine, customers[[*CUSTOMER_COLUMNS, "account_owner"]], order
        self.with_snapshots, self.attributes = with_snapshots, attributes
        self._readers: Counter[str] = Counter()

    def compute(self, families: list[Family], keep: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
        """The families' features; those reading the lines with their own queries run first, before the
        rollup's arrays take the memory, the others in catalogue order. What `keep` names is kept for a reader
        after the families."""
        self._readers = Counter(read for family in families for read in self._reads(family)) + Counter(keep)
        values: dict[str, np.ndarray] = {}
        for family in sorted(families, key=lambda f: "lines" not in f.READS):
            values |= family.compute(self)
            self._release(self._reads(family))
        return values

    def _reads(self, family: Family) -> set[str]:
        """The family's READS, "bought" as the bit-mask column of the values it counts (if counted by masks)."""
        reads = set(family.READS - {"bought"})
        if "bought" in family.READS and (column := self.lines.distinct_column(family.NAME)) in self.lines.mask_columns:
            reads.add(f"{column}_mask")
        return reads

    def _release(self, reads: set[str]) -> None:
        """The family is done: forget the sums it read and free what no family still to run reads."""
        self._readers.subtract(reads)
        done = {read for read in reads if self._readers[read] <= 0}
        if "days" in self.__dict__:
            self.days.forget_sums()
        for read, derived in (("orders", "order_days"), ("purchase", "purchase_days"), ("paid", "paid")):
            if read in done:
                self.__dict__.pop(derived, None)
        if "_rollup" not in self.__dict__:
            return
        parts = self._rollup
        if "days" in parts:
            rows = parts["days"]
            rows.drop(done)
            if not any(self._readers[column] > 0 for column in [*rows.columns, *rows.prefixes]):
                for derived in ("days", "order_days", "purchase_days", "every_customer"):
                    self.__dict__.pop(derived, None)
                del parts["days"]
        for part in ("paid", "category_segments"):
            if part in done:
                parts.pop(part, None)

    @functools.cached_property
    def _rollup(self) -> dict[str, DayRows | dict[str, np.ndarray]]:
        """The parts of the per-day rollup of the lines (`days`, `paid`, `category_segments`), with what the
        families to run read off them; each part is dropped once no family still to run reads it."""
        request = sql.RollupRequest(
            mask_columns=frozenset(read.removesuffix("_mask") for read in +self._readers if read.endswith("_mask")),
            purchases=self._readers["purchase"] > 0, payments=self._readers["paid"] > 0,
            late_payment_days=payment.LATE_PAYMENT_DAYS,
            segment_edges=self.segment_edges if self._readers["category_segments"] > 0 else None)
        rollup = sql.rollup(self.con, request)
        return {"days": rollup.days, "paid": rollup.paid, "category_segments": rollup.category_segments}

    @functools.cached_property
    def segment_edges(self) -> np.ndarray:
        """Days cutting the category segments: every cutoff and cutoff - 365 days, so each year is whole segments."""
        cutoffs = self.probes.cutoffs
        return np.unique(np.concatenate([cutoffs - 365, cutoffs]))

    @property
    def day_rows(self) -> DayRows:
        """The rows per (customer, invoice day)."""
        return self._rollup["days"]

    @functools.cached_property
    def days(self) -> Windows:
        """Windows over the rows per (customer, invoice day), shared by the families (row positions too)."""
        return self.probes.windows(self.day_rows)

    @functools.cached_property
    def order_days(self) -> Windows:
        """Windows over the days with an order."""
        return self.probes.windows(self.day_rows.subset(self.day_rows.positive("orders")))

    @functools.cached_property
    def purchase_days(self) -> DayRows:
        """The days with a purchase (a line with amount > 0)."""
        return self.day_rows.subset(self.day_rows.columns["purchase"])

    @functools.cached_property
    def paid(self) -> Windows:
        """Windows over the rows per (customer, payment day)."""
        return self.probes.windows(self._rollup["paid"])

    @property
    def category_segments(self) -> dict[str, np.ndarray]:
        """Purchase value per (customer, category, segment between consecutive `segment_edges`)."""
        return self._rollup["category_segments"]

    @functools.cached_property
    def every_customer(self) -> EveryCustomer:
        """Every customer probed at each cutoff, over the rows per (customer, invoice day)."""
        return EveryCustomer(self.day_rows, self.probes, len(self.attributes))

    @functools.cached_property
    def sizes(self) -> dict[str, np.ndarray]:
        """Employees and annual revenue of every customer (rows, in key order) at each cutoff (columns): from the
        latest snapshot valid from strictly before the cutoff (NaN without one), or, without snapshots, the
        customers table's values at every cutoff."""
        cutoffs = self.probes.cutoffs
        if self.with_snapshots:
            return sql.sizes_from_snapshots(self.con, len(self.attributes), cutoffs, SIZE_COLUMNS)
        shape = (len(self.attributes), len(cutoffs))
        return {c: np.broadcast_to(pd.to_numeric(self.attributes[c]).to_numpy(dtype=float)[:, None], shape)
                for c in SIZE_COLUMNS}

    def size_at_probes(self, column: str) -> np.ndarray:
        """`sizes[column]` of each probe's customer at its cutoff."""
        return self.sizes[column][self.probes.customer, np.searchsorted(self.probes.cutoffs, self.probes.cutoff_day)]

    @functools.cached_property
    def spine_rank(self) -> np.ndarray:
        """Each spine row's position among the probes."""
        return np.argsort(self.order)
