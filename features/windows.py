"""The windowing engine: rows sorted by (customer, day), read in windows before each probe's cutoff.

A probe is a point (customer, cutoff day). A window [cutoff - start, cutoff - end) of a probe is the row range
between two binary searches; sums and counts are differences of prefix sums, idempotent reductions (maximum,
bitwise or) are `reduceat` over the range. Nothing here knows a feature.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

THREADS = 2  # of the binary searches and of DuckDB: the CI and target machines have 2 cores
DAY_OFFSET = 1 << 31  # days since 1970 shifted to be non-negative in the (customer, day) search key


def search_key(customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Search key ordering rows by customer, then day."""
    return (customer.astype(np.int64) << 32) | (day.astype(np.int64) + DAY_OFFSET)


def return_freed_memory() -> None:
    """Hand freed heap memory back to the operating system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class DayRows:
    """Rows sorted by (customer, day): days with invoices, payment days, days with purchases, ..."""

    def __init__(self, columns: dict[str, np.ndarray], key: np.ndarray | None = None):
        """`columns` hold customer and day (or `key` gives them) and the measures."""
        self.key = search_key(columns.pop("customer"), columns.pop("day")) if key is None else key
        self.columns = columns
        self.prefixes: dict[str, np.ndarray] = {}

    def day(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Day of the given rows (all by default)."""
        return (self.key[rows] & 0xFFFFFFFF) - DAY_OFFSET

    def customer(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Customer key of the given rows (all by default)."""
        return self.key[rows] >> 32

    def subset(self, rows: np.ndarray) -> DayRows:
        """The days of `rows` (a boolean mask), without their other columns."""
        return DayRows({}, self.key[rows])

    def positive(self, column: str) -> np.ndarray:
        """Rows whose non-negative `column` is above 0 (read off its prefix sums once they replaced it)."""
        if column in self.prefixes:
            return np.diff(self.prefixes[column]) > 0
        return self.columns[column] > 0

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

    def drop(self, columns: set[str]) -> None:
        """Free the memory of columns no reader is left for."""
        for column in columns:
            self.columns.pop(column, None)
            self.prefixes.pop(column, None)


class Probes:
    """Points (customer, cutoff day), sorted by customer then cutoff, at which windows are read."""

    def __init__(self, customer: np.ndarray, cutoff_day: np.ndarray, cutoffs: np.ndarray | None = None):
        """`cutoffs`: the cutoff days the population is compared at (default: the probes' own)."""
        self.customer, self.cutoff_day = customer, cutoff_day
        self._customer_key = search_key(customer, np.full(len(customer), -DAY_OFFSET))
        self._cutoffs = cutoffs

    @functools.cached_property
    def cutoffs(self) -> np.ndarray:
        """The distinct cutoff days, sorted: the probes' own, or those given (a bucket of customers is compared
        with the population at every cutoff of the whole spine)."""
        return np.unique(self.cutoff_day if self._cutoffs is None else self._cutoffs)

    def key(self, days_before: int | None) -> np.ndarray:
        """Search key of `cutoff - days_before` (None: before every day) per probe."""
        if days_before is None:
            return self._customer_key
        return self._customer_key | (self.cutoff_day - days_before + DAY_OFFSET)

    def windows(self, rows: DayRows) -> Windows:
        return Windows(rows, self)


class Windows:
    """Windows [cutoff - start, cutoff - end) of each probe over one `DayRows` (start None: all history).

    Row positions of a boundary are kept for every later reader; sums at a boundary until `forget_sums`."""

    def __init__(self, rows: DayRows, probes: Probes):
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
        self._positions.update(zip(missing, self._search(missing), strict=True))

    def _search(self, days_before: list[int | None]) -> Iterator[np.ndarray]:
        dtype = np.int32 if len(self.rows.key) < 2**31 else np.int64
        with ThreadPoolExecutor(THREADS) as pool:
            return pool.map(lambda d: np.searchsorted(self.rows.key, self.probes.key(d)).astype(dtype), days_before)

    def forget_sums(self) -> None:
        """Forget the sums read so far (memory); row positions are kept."""
        self._prefix_at.clear()
        return_freed_memory()

    def count(self, start: int | None, end: int = 0) -> np.ndarray:
        return self.position(end) - self.position(start)

    def sum(self, column: str, start: int | None, end: int = 0) -> np.ndarray:
        return self._sum_before(column, end) - self._sum_before(column, start)

    def sums_before(self, column: str, days_before: list[int]) -> list[np.ndarray]:
        """Sum of `column` before each boundary (as `sum`'s terms, which cancel out in a window); positions
        not known yet are found for this call only (boundaries no other reader shares)."""
        known = [self.position(d) if d in self._positions else None for d in days_before]
        searched = iter(self._search([d for d, p in zip(days_before, known, strict=True) if p is None]))
        prefix = self.rows.prefix(column)
        return [prefix[p if p is not None else next(searched)] for p in known]

    def _sum_before(self, column: str, days_before: int | None) -> np.ndarray:
        """Sum of `column` over the customer's rows before `cutoff - days_before`, plus the sum over the
        customers before (cancels out in a window's sum); kept until `forget_sums`, as windows share bounds."""
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


class EveryCustomer:
    """Every customer at each probe cutoff (a population to rank a probe among): net spend and whether it
    bought in a window, computed once per window for every family that compares with the population."""

    def __init__(self, rows: DayRows | None, probes: Probes, n_customers: int):
        """`rows` None: the windows are given with `collected` instead of computed."""
        self.rows, self.probes, self.n_customers = rows, probes, n_customers
        self._spend: dict[int, np.ndarray] = {}
        self._bought: dict[int, np.ndarray] = {}

    @classmethod
    def collected(cls, probes: Probes, spend: dict[int, np.ndarray], bought: dict[int, np.ndarray]) -> EveryCustomer:
        """The population of windows computed elsewhere (shaped as `spend` and `bought` return them)."""
        population = cls(None, probes, next(iter(spend.values())).shape[1])
        population._spend, population._bought = dict(spend), dict(bought)
        return population

    def spend(self, window: int) -> np.ndarray:
        """Net spend (money units) of every customer in the `window` days before each cutoff: one row per cutoff
        of `probes.cutoffs`, one column per customer."""
        self.prepare(window)
        return self._spend[window]

    def bought(self, window: int) -> np.ndarray:
        """Whether each customer has an invoice in the `window` days before each cutoff (shaped as `spend`)."""
        self.prepare(window)
        return self._bought[window]

    def prepare(self, *windows: int) -> None:
        """Compute these windows in one pass: every customer is probed at a batch of cutoffs at a time, about as
        many probes as the spine has rows (memory)."""
        missing = [window for window in dict.fromkeys(windows) if window not in self._spend]
        if not missing:
            return
        cutoffs = self.probes.cutoffs
        everyone = np.arange(self.n_customers)
        spend = {window: np.empty((len(cutoffs), self.n_customers), np.int64) for window in missing}
        bought = {window: np.empty((len(cutoffs), self.n_customers), bool) for window in missing}
        batch_size = max(1, len(self.probes.customer) // max(1, self.n_customers))
        for first in range(0, len(cutoffs), batch_size):
            batch = cutoffs[first:first + batch_size]
            # by customer, then cutoff: reshaped to (customer, cutoff) and transposed to a row per cutoff
            windows_ = Probes(np.repeat(everyone, len(batch)), np.tile(batch, self.n_customers)).windows(self.rows)
            windows_.prefetch(0, *missing)
            for window in missing:
                shape = (self.n_customers, len(batch))
                spend[window][first:first + len(batch)] = windows_.sum("spend", window).reshape(shape).T
                bought[window][first:first + len(batch)] = (windows_.count(window) > 0).reshape(shape).T
        self._spend |= spend
        self._bought |= bought

    def probes_at(self, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
        """The probes at this cutoff day and their customers."""
        at = np.flatnonzero(self.probes.cutoff_day == cutoff)
        return at, self.probes.customer[at]
