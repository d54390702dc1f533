"""The generating process of the project world, shared by its simulator (demo/project_simulator.py, which
draws from it and describes it) and its oracle (demo/project_oracle.py, which takes its expectations): the
latent parameters of every firm and tender, the self-exciting tender process, and what a window of time
holds of a firm's run-rate buying, a tender's sample orders and a project's spend."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo.process import DAYS_PER_YEAR, as_days, month_starts

BURN_IN_YEARS = 3  # tenders start this long before the period, so momentum and running projects are settled
MOMENTUM_DAYS = 240.0  # decay time of the tender rate a won project adds
BID_MIN_DAYS, BID_MAX_DAYS = 90, 270  # a tender's bid phase (sample orders) before its decision
LEAD_MIN_DAYS, LEAD_MAX_DAYS = 14, 60  # from a won decision to the project's start
PROJECT_MIN_DAYS, PROJECT_MAX_DAYS = 120, 540
PROJECT_SIZE_SIGMA = 0.8  # a project's size: project_scale * lognormal(0, sigma)
MEAN_SIZE_FACTOR = float(np.exp(PROJECT_SIZE_SIGMA**2 / 2))  # E[size] / project_scale
SAMPLE_ORDERS_MEAN = 3.0  # expected sample orders of a tender during its bid
# Mean-one profiles over the fiscal year, index 0 = the first month after the fiscal year end: new budgets
# open tenders early in the year; run-rate buying flushes what is left of the budget in its last months.
_RAW_TENDER = np.array([1.5, 1.4, 1.3, 1.1, 1.0, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7])
TENDER_PROFILE = _RAW_TENDER / _RAW_TENDER.mean()
_RAW_BUDGET = np.array([0.75, 0.9, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 1.0, 1.0, 1.15, 1.6])
BUDGET_PROFILE = _RAW_BUDGET / _RAW_BUDGET.mean()


def fiscal_month(month_start: np.ndarray, fiscal_year_end_month: np.ndarray) -> np.ndarray:
    """Position of calendar months in each firm's fiscal year, shape (firms, months): 0 = the first month
    after the fiscal year end (month numbers 1-12)."""
    calendar = month_start.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return (calendar[None, :] - fiscal_year_end_month[:, None] - 1) % 12


def smoothstep(x: np.ndarray) -> np.ndarray:
    """The distribution function of Beta(2, 2) (a project's spend over its span): 3x^2 - 2x^3 on [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _days(frame: pd.DataFrame, column: str) -> np.ndarray:
    return as_days(frame[column])


@dataclass(frozen=True)
class Firms:
    """Numpy view of the firm-level ground truth (one entry per customer, in customer order)."""

    customer_id: np.ndarray
    active_from: np.ndarray  # datetime64[D]: first day of orders inside the period
    active_until: np.ndarray  # datetime64[D], exclusive
    tender_from: np.ndarray  # datetime64[D]: first day tenders can arrive (arrival, at most the burn-in back)
    run_rate: np.ndarray  # EUR/year at run_rate_ref_date
    run_rate_ref: np.ndarray  # datetime64[D]
    run_rate_growth: np.ndarray
    fiscal_year_end_month: np.ndarray
    budget_amplitude: np.ndarray
    tender_rate: np.ndarray  # tenders/year without momentum
    momentum: np.ndarray  # tenders/year a won decision adds, decaying with MOMENTUM_DAYS
    win_probability: np.ndarray
    project_scale: np.ndarray  # median project size (EUR)
    sample_order_value: np.ndarray  # mean value of a sample order
    return_share: np.ndarray

    @classmethod
    def from_frame(cls, ground_truth: pd.DataFrame) -> Firms:
        """The firms of a project-world ground truth (its first row per customer, in order)."""
        firms = ground_truth.drop_duplicates("customer_id")

        def num(column: str) -> np.ndarray:
            return firms[column].to_numpy(dtype="float64")

        return cls(
            customer_id=firms["customer_id"].to_numpy(dtype=object),
            active_from=_days(firms, "active_from"),
            active_until=_days(firms, "active_until"),
            tender_from=_days(firms, "tender_from"),
            run_rate=num("run_rate"),
            run_rate_ref=_days(firms, "run_rate_ref_date"),
            run_rate_growth=num("run_rate_growth"),
            fiscal_year_end_month=firms["fiscal_year_end_month"].to_numpy(dtype=np.int64),
            budget_amplitude=num("budget_amplitude"),
            tender_rate=num("tender_rate"),
            momentum=num("momentum"),
            win_probability=num("win_probability"),
            project_scale=num("project_scale"),
            sample_order_value=num("sample_order_value"),
            return_share=num("expected_return_share"),
        )

    def run_rate_months(self, starts: np.ndarray, lo: np.datetime64, hi: np.datetime64) -> dict[str, np.ndarray]:
        """Per (firm, month) for months starts[:-1] restricted to [lo, hi) and the firm's activity: expected
        gross run-rate spend, the first active day and the active business days."""
        ms, me = starts[:-1], starts[1:]
        mid = ms + (me - ms) // 2
        years = (mid[None, :] - self.run_rate_ref[:, None]).astype("float64") / DAYS_PER_YEAR
        yearly = self.run_rate[:, None] * np.exp(self.run_rate_growth[:, None] * years)
        budget = 1.0 + self.budget_amplitude[:, None] * (
            BUDGET_PROFILE[fiscal_month(ms, self.fiscal_year_end_month)] - 1.0)
        a_lo = np.maximum(np.maximum(ms[None, :], self.active_from[:, None]), lo)
        a_hi = np.minimum(np.minimum(me[None, :], self.active_until[:, None]), hi)
        a_hi = np.maximum(a_hi, a_lo)
        active_days = np.busday_count(a_lo, a_hi)
        gross = yearly / 12.0 * budget * (active_days / np.busday_count(ms, me)[None, :])
        return {"gross": gross, "yearly": yearly, "lo": a_lo, "active_days": active_days}

    def run_rate_spend(self, lo: np.datetime64, hi: np.datetime64) -> np.ndarray:
        """Expected gross run-rate spend per firm in [lo, hi)."""
        if hi <= lo:
            return np.zeros(len(self.run_rate))
        return self.run_rate_months(month_starts(lo, hi), lo, hi)["gross"].sum(axis=1)


@dataclass(frozen=True)
class Tenders:
    """Tenders: the firm (row index into Firms), when the bid opened and was decided, whether it was won, and
    the project it is for (started lead days after a won decision)."""

    firm: np.ndarray  # int64
    arrival: np.ndarray  # datetime64[D]
    decision: np.ndarray  # datetime64[D]
    won: np.ndarray  # bool
    project_start: np.ndarray  # datetime64[D]
    project_days: np.ndarray  # int64
    project_size: np.ndarray  # EUR, the project's spend if won

    @classmethod
    def from_frame(cls, ground_truth: pd.DataFrame, firms: Firms) -> Tenders:
        """The tenders of a project-world ground truth (rows with a tender_id)."""
        rows = ground_truth[ground_truth["tender_id"].notna()]
        position = pd.Index(firms.customer_id).get_indexer(rows["customer_id"])
        return cls(
            firm=position.astype(np.int64),
            arrival=_days(rows, "tender_arrival"),
            decision=_days(rows, "decision_date"),
            won=rows["won"].to_numpy(dtype=bool),
            project_start=_days(rows, "project_start"),
            project_days=rows["project_days"].to_numpy(dtype=np.int64),
            project_size=rows["project_size"].to_numpy(dtype="float64"),
        )

    def subset(self, mask: np.ndarray) -> Tenders:
        """The tenders where mask is true."""
        return Tenders(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))

    def project_share(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Share of each project's spend (Beta(2, 2) over its span) that falls in [lo, hi)."""
        def at(day: np.ndarray) -> np.ndarray:
            return smoothstep((day - self.project_start).astype("float64") / self.project_days)

        return np.where(hi > lo, at(hi) - at(lo), 0.0)

    def sample_share(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Share of each bid phase [arrival, decision) (sample orders, uniform over its days) in [lo, hi)."""
        overlap = np.minimum(hi, self.decision) - np.maximum(lo, self.arrival)
        return np.clip(overlap.astype("float64"), 0.0, None) / (self.decision - self.arrival).astype("float64")


def tender_spend(tenders: Tenders, firms: Firms, lo: np.ndarray, hi: np.ndarray,
                 project_value: np.ndarray) -> np.ndarray:
    """Expected gross spend of each tender in [lo, hi): its sample orders and `project_value` (the project's
    size if won, or an expectation of it) times the project's share of the window."""
    samples = SAMPLE_ORDERS_MEAN * firms.sample_order_value[tenders.firm] * tenders.sample_share(lo, hi)
    return samples + project_value * tenders.project_share(lo, hi)


def simulate_tenders(firms: Firms, rows: np.ndarray, open_from: np.ndarray, stop: np.datetime64,
                     won_firm_row: np.ndarray, won_decision: np.ndarray, rng: np.random.Generator) -> Tenders:
    """Draw the tenders that arrive in [open_from, stop) for each simulated row (rows[r]: its firm; the
    oracle simulates several rows per firm), given the won decisions already known (won_firm_row: the
    row, won_decision: the day), whose momentum the new tenders' wins join.

    Month by month, a row's tenders in [max(month start, open_from), min(month end, stop)) ~ Poisson with the
    yearly rate tender_rate * TENDER_PROFILE[fiscal month] + momentum * sum over won decisions d before the
    month start of exp(-(month start - d) / MOMENTUM_DAYS); arrival days uniform over that interval. Each
    tender bids BID_MIN_DAYS..BID_MAX_DAYS, is won with win_probability, and its project starts
    LEAD_MIN_DAYS..LEAD_MAX_DAYS after the decision, lasts PROJECT_MIN_DAYS..PROJECT_MAX_DAYS and is worth
    project_scale * lognormal(0, PROJECT_SIZE_SIGMA). `Tenders.firm` holds the row index.
    """
    n_rows = len(rows)
    starts = month_starts(open_from.min(), stop) if n_rows else np.array([], dtype="datetime64[D]")
    decay = 1.0 / MOMENTUM_DAYS
    excitation = np.zeros(n_rows)
    queue_row, queue_day = won_firm_row.astype(np.int64), won_decision.astype("datetime64[D]")
    previous = starts[0] if len(starts) else None
    drawn: list[Tenders] = []
    for month_start, month_end in itertools.pairwise(starts):
        excitation *= np.exp(-decay * float((month_start - previous).astype(np.int64)))
        previous = month_start
        due = queue_day < month_start
        weight = np.exp(-decay * (month_start - queue_day[due]).astype("float64"))
        excitation += np.bincount(queue_row[due], weights=weight, minlength=n_rows) * firms.momentum[rows]
        queue_row, queue_day = queue_row[~due], queue_day[~due]
        lo = np.maximum(open_from, month_start)
        hi = min(month_end, stop)
        days = np.maximum((hi - lo).astype(np.int64), 0)
        fiscal = fiscal_month(np.array([month_start]), firms.fiscal_year_end_month[rows])[:, 0]
        rate = firms.tender_rate[rows] * TENDER_PROFILE[fiscal] + excitation
        counts = rng.poisson(rate * days / DAYS_PER_YEAR)
        row = np.repeat(np.arange(n_rows), counts)
        if len(row) == 0:
            continue
        arrival = lo[row] + np.floor(rng.random(len(row)) * days[row]).astype("timedelta64[D]")
        decision = arrival + rng.integers(BID_MIN_DAYS, BID_MAX_DAYS + 1, len(row)).astype("timedelta64[D]")
        firm = rows[row]
        won = rng.random(len(row)) < firms.win_probability[firm]
        lead = rng.integers(LEAD_MIN_DAYS, LEAD_MAX_DAYS + 1, len(row)).astype("timedelta64[D]")
        project_days = rng.integers(PROJECT_MIN_DAYS, PROJECT_MAX_DAYS + 1, len(row))
        size = firms.project_scale[firm] * np.exp(rng.normal(0.0, PROJECT_SIZE_SIGMA, len(row)))
        drawn.append(Tenders(firm=row, arrival=arrival, decision=decision, won=won, project_start=decision + lead,
                             project_days=project_days, project_size=size))
        queue_row = np.concatenate([queue_row, row[won]])
        queue_day = np.concatenate([queue_day, decision[won]])
    if not drawn:
        empty = np.array([], dtype="datetime64[D]")
        return Tenders(np.array([], dtype=np.int64), empty, empty, np.array([], dtype=bool), empty,
                       np.array([], dtype=np.int64), np.array([], dtype="float64"))
    return Tenders(*(np.concatenate([getattr(t, name) for t in drawn]) for name in Tenders.__dataclass_fields__))
