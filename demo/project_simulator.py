"""The project world: B2B buying driven by discrete contract wins (demo.world: projects).

`generate_project_world(settings, seed)` returns the same four tables as the adoption world
(demo/simulator.py): customers, invoice-line transactions, yearly firmographic snapshots (columns and dtypes
identical) and a ground truth for the oracle (demo/project_oracle.py). Everything is drawn from one
`np.random.default_rng(seed)`, so the output is a pure function of (settings, seed).

Where the adoption world's key accounts come from a smooth, lasting ramp of the share of wallet, here they
come from projects: a firm bids on tenders, wins some, and each won project brings a lump of spend that ends
with the project. Spend is lumpy and transient, so last year's spend says less about next year's.

Generating process (time in days)
---------------------------------
* Firms: industry, country, employees (log-normal), credit rating (better for larger firms), acquisition
  channel (larger firms mostly via field sales), arrival (42 % before the period), fiscal year end
  (December 65 %, March, June, September). Company age (founded at least 9 years before the period) and
  country are pure noise: nothing in the process depends on them (nor on account owner or region).
* Run-rate buying: every firm buys consumables at a yearly rate run_rate (size and industry) drifting with
  run_rate_growth. The expected gross spend of a calendar month M is
  ``run_rate(mid_M) / 12 * (1 + budget_amplitude * (BUDGET_PROFILE[fiscal month of M] - 1))`` (budgets flushed
  at the fiscal year end) spread over the business days of M in [active_from, active_until);
  orders ~ Poisson(month spend / mean order value), values ~ Gamma(3) with mean
  ``order_value_scale * run_rate ** 0.45``, lines from the firm's core_breadth preferred categories.
* Tenders (bidders only, about 38 % of firms, more in construction, the public sector and manufacturing):
  a self-exciting (Hawkes) process. The yearly tender rate is
  ``tender_rate * TENDER_PROFILE[fiscal month] + momentum * sum over won decisions d of exp(-(t - d) / 240 days)``
  (evaluated at month starts; new budgets open more tenders early in the fiscal year): every won project
  raises the chance of further tenders (references, follow-on work) for some months. A tender bids 90-270
  days, during which the firm places Poisson(SAMPLE_ORDERS_MEAN) small sample orders (mean value
  sample_order_value, a third of a run-rate order, 1-2 lines) in the tender's own 2-5 categories, often
  new to the firm; at the decision it is won with win_probability (better credit rating, better odds).
* A won tender's project starts 14-60 days after the decision, lasts 120-540 days and is worth
  ``project_scale * lognormal(0, 0.8)`` (project_scale grows with size and industry). Its calls
  (about 1.5 a month, Poisson) are large orders of Gamma(2) values with mean size / expected calls, on days
  drawn from Beta(2, 2) over its span (spend peaks mid-project), each of 2-15 lines in the project's
  categories; the firm pays them more slowly (x 1.3).
* Momentum: branching_ratio = win_probability * momentum * 240 / 365.25 is the expected number of further
  won tenders a won tender brings (0.6-0.9 for the momentum firms, about 3 in 10 bidders; 0.05-0.35 for the
  others), so wins come in bursts of uncertain length. Tenders are simulated from BURN_IN_YEARS before the
  period (or the firm's arrival), so momentum and running projects are settled when the period starts.
* Leading signals therefore differ in kind from the adoption world's: a rising cadence of small orders in
  new categories (bids), repeat project starts (momentum), lumpy project calls; firmographics show size only
  (employees drift at random, revenue = employees * productivity).
* Credit notes as in the adoption world (demo/common.py): expected net spend = gross * (1 -
  expected_return_share). days_to_pay follows the rating (pay_days_base) with noise.

ground_truth columns (one row per tender; a firm without tenders has one row with tender_id null)
--------------------------------------------------------------------------------------------------
Firm (repeated on each of its rows): customer_id; arrival_date; active_from / active_until (ordering
interval inside the period, end exclusive); tender_from (first day tenders can arrive); run_rate (EUR/year
at run_rate_ref_date); run_rate_ref_date; run_rate_growth; fiscal_year_end_month; budget_amplitude; bidder;
momentum_firm; tender_rate (tenders/year); momentum (tenders/year a win adds); branching_ratio;
win_probability; project_scale; sample_order_value; order_value_scale; core_breadth; pay_days_base;
price_discount; expected_return_share.
Tender: tender_id ("T..."); tender_arrival (its bid opens); decision_date; won; project_start;
project_days; project_size (its project's total spend if won, also recorded for lost tenders).
Sample orders before the period start, and project calls outside the period, are not in the transactions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo.common import (
    CHANNEL_LARGE,
    CHANNEL_SMALL,
    CHANNELS,
    COUNTRIES,
    MAX_LINES,
    RATING_PAY_DAYS,
    RATING_SHARE,
    RATINGS,
    RETURN_LINE_PROBABILITY,
    RETURN_PROBABILITY,
    DemoTables,
    SimulationSettings,
    assemble_transactions,
    catalogue,
    company_names,
    demo_tables,
    ids,
    rep_names,
)
from demo.process import DAYS_PER_YEAR, month_starts, to_day
from demo.project_process import (
    BURN_IN_YEARS,
    MOMENTUM_DAYS,
    SAMPLE_ORDERS_MEAN,
    Firms,
    Tenders,
    simulate_tenders,
)

ORDER_VALUE_EXPONENT = 0.45
RUN_RATE_ORDER_SHAPE = 3.0
PROJECT_ORDER_SHAPE = 2.0
SAMPLE_ORDER_SHAPE = 2.0
SAMPLE_VALUE_SHARE = 0.35  # a sample order is about a third of a run-rate order
PROJECT_CALLS_PER_MONTH = 1.5
PROJECT_PAY_FACTOR = 1.3  # project invoices are paid more slowly (retentions, acceptance)
MOMENTUM_FIRM_SHARE = 0.3  # share of bidders whose wins bring many follow-on tenders
_FISCAL_YEAR_ENDS = np.array([12, 3, 6, 9])
_FISCAL_YEAR_END_SHARE = np.array([0.65, 0.15, 0.12, 0.08])
_RATING_WIN = np.array([0.5, 0.46, 0.42, 0.36, 0.3, 0.24, 0.18])  # chance to win a tender
_CHANNEL_BIDDING = np.array([1.2, 1.0, 0.6, 1.1, 1.0])  # relative chance to bid on tenders
# name, population weight, run-rate weight, chance to bid on tenders, project scale weight, revenue per employee
_INDUSTRIES = (
    ("Manufacturing", 0.14, 1.4, 0.55, 1.3, 230_000),
    ("Wholesale", 0.10, 1.4, 0.25, 0.8, 450_000),
    ("Retail", 0.12, 0.9, 0.12, 0.6, 180_000),
    ("Construction", 0.10, 1.1, 0.80, 1.6, 200_000),
    ("Healthcare", 0.07, 0.9, 0.45, 1.0, 120_000),
    ("Hospitality", 0.08, 0.8, 0.15, 0.6, 70_000),
    ("Logistics", 0.08, 1.2, 0.35, 0.9, 160_000),
    ("IT Services", 0.08, 0.5, 0.50, 1.1, 150_000),
    ("Education", 0.05, 0.6, 0.50, 0.9, 90_000),
    ("Public Sector", 0.05, 0.8, 0.70, 1.2, 110_000),
    ("Agriculture", 0.05, 0.9, 0.20, 0.8, 250_000),
    ("Automotive", 0.08, 1.5, 0.45, 1.4, 300_000),
)


def _draw_firms(settings: SimulationSettings, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Customers (static attributes) and the firm-level ground truth; `aux` feeds the later steps."""
    n = settings.n_customers
    start, end = to_day(settings.start), to_day(settings.end)
    period_days = int((end - start).astype(np.int64))
    start_year = int(settings.start.year)

    def column(i: int) -> np.ndarray:
        return np.array([row[i] for row in _INDUSTRIES])

    industry = rng.choice(len(_INDUSTRIES), size=n, p=column(1) / column(1).sum())
    country_p = np.array([c[2] for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n, p=country_p / country_p.sum())
    log_emp = rng.normal(np.log(15.0), 1.6, n)
    emp0 = np.clip(np.exp(log_emp), 1.0, 40_000.0)
    rating_score = rng.normal(size=n) - 0.35 * (log_emp - log_emp.mean()) / log_emp.std()
    rank = np.argsort(np.argsort(rating_score, kind="stable"), kind="stable") / n
    rating = np.searchsorted(np.cumsum(RATING_SHARE)[:-1], rank, side="right")
    founded = (start_year - 9 - np.floor(np.exp(rng.normal(np.log(14.0), 0.9, n)))).clip(1850).astype(np.int64)
    pre = rng.random(n) < 0.42
    arrival_offset = np.where(pre, -rng.uniform(1, 8 * DAYS_PER_YEAR, n), rng.uniform(0, period_days, n))
    arrival = start + np.floor(arrival_offset).astype("timedelta64[D]")
    active_from = np.maximum(arrival, start)
    burn_in_start = to_day(settings.start - pd.DateOffset(years=BURN_IN_YEARS))
    tender_from = np.maximum(arrival, burn_in_start)
    channel = np.where(emp0 >= 200, rng.choice(len(CHANNELS), n, p=CHANNEL_LARGE),
                       rng.choice(len(CHANNELS), n, p=CHANNEL_SMALL))
    fiscal_year_end = rng.choice(_FISCAL_YEAR_ENDS, n, p=_FISCAL_YEAR_END_SHARE)
    budget_amplitude = rng.uniform(0.2, 1.0, n)

    run_rate = 300.0 * column(2)[industry] * np.power(emp0, 0.62) * np.exp(rng.normal(0.0, 0.45, n))
    run_rate_growth = rng.normal(0.02, 0.04, n)
    bidder = rng.random(n) < np.clip(column(3)[industry] * _CHANNEL_BIDDING[channel], 0.0, 0.95)
    momentum_firm = bidder & (rng.random(n) < MOMENTUM_FIRM_SHARE)
    tender_rate = np.where(bidder, np.exp(rng.normal(np.log(0.45), 0.6, n)) * (emp0 / 15.0) ** 0.15, 0.0)
    win_probability = np.clip(_RATING_WIN[rating] * np.exp(rng.normal(0.0, 0.2, n)), 0.05, 0.8)
    branching = np.where(momentum_firm, rng.uniform(0.6, 0.9, n), rng.uniform(0.05, 0.35, n)) * bidder
    momentum = branching / (win_probability * MOMENTUM_DAYS / DAYS_PER_YEAR)
    project_scale = 4500.0 * column(4)[industry] * np.power(emp0, 0.55) * np.exp(rng.normal(0.0, 0.5, n))
    order_value_scale = 4.0 * np.exp(rng.normal(0.0, 0.35, n))
    sample_order_value = SAMPLE_VALUE_SHARE * order_value_scale * np.power(run_rate, ORDER_VALUE_EXPONENT)
    core_breadth = 1 + rng.poisson(0.8 + 0.25 * np.clip(log_emp, 0, None), n)
    pay_days_base = RATING_PAY_DAYS[rating] * np.exp(rng.normal(0.0, 0.25, n))
    price_discount = np.clip(1.0 - 0.025 * np.log1p(run_rate / 1000.0) - rng.uniform(0, 0.08, n), 0.6, 1.0)

    customer_id = pd.array(ids("C", np.arange(1, n + 1), max(6, len(str(n)))), dtype="str")
    names = company_names(rng, country)
    reps = np.array(rep_names(settings.n_account_owners), dtype=object)
    owner = reps[rng.integers(0, len(reps), n)]

    def dt(values: np.ndarray) -> np.ndarray:
        return values.astype("datetime64[us]")

    firms = pd.DataFrame({
        "customer_id": customer_id,
        "arrival_date": dt(arrival),
        "active_from": dt(active_from),
        "active_until": dt(np.full(n, end)),
        "tender_from": dt(tender_from),
        "run_rate": run_rate,
        "run_rate_ref_date": dt(np.full(n, start)),
        "run_rate_growth": run_rate_growth,
        "fiscal_year_end_month": fiscal_year_end.astype(np.int64),
        "budget_amplitude": budget_amplitude,
        "bidder": bidder,
        "momentum_firm": momentum_firm,
        "tender_rate": tender_rate,
        "momentum": momentum,
        "branching_ratio": branching,
        "win_probability": win_probability,
        "project_scale": project_scale,
        "sample_order_value": sample_order_value,
        "order_value_scale": order_value_scale,
        "core_breadth": core_breadth.astype(np.int64),
        "pay_days_base": pay_days_base,
        "price_discount": price_discount,
        "expected_return_share": np.full(n, RETURN_PROBABILITY * RETURN_LINE_PROBABILITY),
    })
    customers = pd.DataFrame({
        "customer_id": customer_id,
        "company_name": pd.array(names, dtype="str"),
        "industry": pd.array(np.array([i[0] for i in _INDUSTRIES], dtype=object)[industry], dtype="str"),
        "country": pd.array(np.array([c[0] for c in COUNTRIES], dtype=object)[country], dtype="str"),
        "region": pd.array(np.array([c[1] for c in COUNTRIES], dtype=object)[country], dtype="str"),
        "founded_year": founded,
        "credit_rating": pd.array(np.array(RATINGS, dtype=object)[rating], dtype="str"),
        "acquisition_channel": pd.array(np.array(CHANNELS, dtype=object)[channel], dtype="str"),
        "account_owner": pd.array(owner, dtype="str"),
    })
    aux = {"industry": industry, "emp0": emp0, "rev_per_emp": column(5).astype(float)[industry],
           "start_year": start_year, "last_year": int((settings.end - pd.Timedelta(days=1)).year)}
    return customers, firms, aux


def _firmographics(rng: np.random.Generator, firms: pd.DataFrame, aux: dict) -> pd.DataFrame:
    """Yearly snapshots (Jan 1 of every year of the period): employees drift at random, revenue follows them."""
    n = len(firms)
    years = np.arange(aux["start_year"], aux["last_year"] + 1)
    row_cust = np.repeat(np.arange(n), len(years))
    year = np.tile(years, n)
    drift = rng.normal(0.01, 0.04, n)
    employees = aux["emp0"][row_cust] * np.exp(drift[row_cust] * (year - aux["start_year"])
                                               + rng.normal(0.0, 0.05, len(row_cust)))
    employees = np.clip(np.round(employees), 1, 50_000).astype(np.int64)
    productivity = aux["rev_per_emp"] * np.exp(rng.normal(0.0, 0.35, n))
    revenue = employees * productivity[row_cust] * np.exp(rng.normal(0.0, 0.06, len(row_cust)))
    return pd.DataFrame({
        "customer_id": firms["customer_id"].take(row_cust).reset_index(drop=True),
        "valid_from": pd.to_datetime(pd.Series(year).astype(str) + "-01-01").to_numpy().astype("datetime64[us]"),
        "employees": employees,
        "annual_revenue": np.maximum(np.round(revenue, -3), 1000.0).astype("float64"),
    })


def _ground_truth(firms: pd.DataFrame, tenders: Tenders) -> pd.DataFrame:
    """One row per tender (by firm, then arrival) with its firm's columns; one row for a firm without tenders."""
    order = np.lexsort((tenders.arrival.astype(np.int64), tenders.firm))
    tenders = tenders.subset(order)
    n_tenders = len(tenders.firm)
    without = np.setdiff1d(np.arange(len(firms)), tenders.firm)
    firm_row = np.concatenate([tenders.firm, without])
    position = np.argsort(firm_row, kind="stable")

    def dt(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values, np.full(len(without), np.datetime64("NaT"), "datetime64[D]")]).astype(
            "datetime64[us]")

    tender_id = ids("T", np.arange(1, n_tenders + 1), max(7, len(str(n_tenders))))
    events = pd.DataFrame({
        "tender_id": pd.array(np.concatenate([tender_id, np.full(len(without), None, dtype=object)]), dtype="str"),
        "tender_arrival": dt(tenders.arrival),
        "decision_date": dt(tenders.decision),
        "won": np.concatenate([tenders.won, np.zeros(len(without), bool)]),
        "project_start": dt(tenders.project_start),
        "project_days": np.concatenate([tenders.project_days, np.zeros(len(without), np.int64)]),
        "project_size": np.concatenate([tenders.project_size, np.full(len(without), np.nan)]),
    }).iloc[position]
    frame = firms.take(firm_row[position]).reset_index(drop=True)
    return pd.concat([frame, events.reset_index(drop=True)], axis=1)


def _orders(settings: SimulationSettings, rng: np.random.Generator, firms: Firms, tenders: Tenders,
            firm_frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Run-rate, sample and project orders inside the period: customer, day, value, kind (0 run-rate,
    1 sample, 2 project) and the tender behind a sample or project order (-1 for run-rate)."""
    start, end = to_day(settings.start), to_day(settings.end)
    months = month_starts(start, end)
    parts = firms.run_rate_months(months, start, end)
    mean_value = firm_frame["order_value_scale"].to_numpy()[:, None] * np.power(
        np.maximum(parts["yearly"], 1e-9), ORDER_VALUE_EXPONENT)
    counts = rng.poisson(parts["gross"] / mean_value)
    n_months = counts.shape[1]
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    run_day = np.busday_offset(parts["lo"].ravel()[cell],
                               np.floor(rng.random(len(cell)) * parts["active_days"].ravel()[cell]).astype(np.int64),
                               roll="forward")
    run_value = rng.gamma(RUN_RATE_ORDER_SHAPE, mean_value.ravel()[cell] / RUN_RATE_ORDER_SHAPE)

    n_samples = rng.poisson(SAMPLE_ORDERS_MEAN, len(tenders.firm))
    sample_tender = np.repeat(np.arange(len(tenders.firm)), n_samples)
    bid_days = (tenders.decision - tenders.arrival).astype(np.int64)[sample_tender]
    sample_day = tenders.arrival[sample_tender] + np.floor(rng.random(len(sample_tender)) * bid_days).astype(
        "timedelta64[D]")
    sample_mean = firms.sample_order_value[tenders.firm[sample_tender]]
    sample_value = rng.gamma(SAMPLE_ORDER_SHAPE, sample_mean / SAMPLE_ORDER_SHAPE)

    won = np.flatnonzero(tenders.won)
    calls_mean = np.maximum(PROJECT_CALLS_PER_MONTH * tenders.project_days[won] / (DAYS_PER_YEAR / 12), 1.0)
    n_calls = rng.poisson(calls_mean)
    call_tender = np.repeat(won, n_calls)
    call_mean = np.repeat(tenders.project_size[won] / calls_mean, n_calls)
    call_day = tenders.project_start[call_tender] + np.floor(
        rng.beta(2.0, 2.0, len(call_tender)) * tenders.project_days[call_tender]).astype("timedelta64[D]")
    call_value = rng.gamma(PROJECT_ORDER_SHAPE, call_mean / PROJECT_ORDER_SHAPE)

    day = np.concatenate([run_day, np.busday_offset(sample_day, 0, roll="forward"),
                          np.busday_offset(call_day, 0, roll="forward")])
    orders = {
        "cust": np.concatenate([cell // n_months, tenders.firm[sample_tender], tenders.firm[call_tender]]),
        "day": day,
        "value": np.concatenate([run_value, sample_value, call_value]),
        "kind": np.concatenate([np.zeros(len(cell), np.int64), np.ones(len(sample_tender), np.int64),
                                np.full(len(call_tender), 2, np.int64)]),
        "tender": np.concatenate([np.full(len(cell), -1), sample_tender, call_tender]),
    }
    inside = (orders["day"] >= start) & (orders["day"] < end)
    return {key: values[inside] for key, values in orders.items()}


def _transactions(settings: SimulationSettings, rng: np.random.Generator, orders: dict[str, np.ndarray],
                  tenders: Tenders, aux: dict, firm_frame: pd.DataFrame, products: dict[str, np.ndarray]
                  ) -> pd.DataFrame:
    """Orders split into lines: run-rate lines from the firm's core categories, sample and project lines from
    the tender's categories; days to pay per invoice."""
    n, n_cat = settings.n_customers, settings.n_categories
    affinity = rng.normal(0.0, 1.0, (len(_INDUSTRIES), n_cat))
    core = np.argsort(-(rng.gumbel(size=(n, n_cat)) + affinity[aux["industry"]]), axis=1)
    # a tender's categories: the top 2-5 of its industry's affinity plus its own draw
    n_bundle = np.minimum(2 + rng.poisson(1.0, len(tenders.firm)), min(5, n_cat))
    tender_keys = rng.gumbel(size=(len(tenders.firm), n_cat)) + affinity[aux["industry"][tenders.firm]]
    bundle = np.argsort(-tender_keys, axis=1)[:, :5]
    cust, kind, value, tender = orders["cust"], orders["kind"], orders["value"], orders["tender"]
    n_orders = len(cust)
    breadth = np.minimum(firm_frame["core_breadth"].to_numpy()[cust], n_cat)
    lines_mean = np.select(
        [kind == 0, kind == 1],
        [0.3 * (breadth - 1) + 0.4 * np.log(np.maximum(value, 50.0) / 50.0) + 0.3, np.full(n_orders, 0.3)],
        1.0 + 0.6 * np.log(np.maximum(value, 500.0) / 500.0),
    )
    n_lines = np.minimum(np.where(kind == 2, 2, 1) + rng.poisson(lines_mean), MAX_LINES)
    pay = firm_frame["pay_days_base"].to_numpy()[cust] * np.exp(rng.normal(0.0, 0.3, n_orders))
    days_to_pay = np.round(pay * np.where(kind == 2, PROJECT_PAY_FACTOR, 1.0))

    order_of_line = np.repeat(np.arange(n_orders), n_lines)
    weights = rng.gamma(2.0, 1.0, len(order_of_line))
    line_value = value[order_of_line] * weights / np.bincount(order_of_line, weights)[order_of_line]
    line_cust, line_tender = cust[order_of_line], tender[order_of_line]
    u = rng.random(len(order_of_line))
    core_category = core[line_cust, np.floor(breadth[order_of_line] * u**1.4).astype(np.int64)]
    on_tender = np.maximum(line_tender, 0)
    tender_category = bundle[on_tender, np.floor(n_bundle[on_tender] * u).astype(np.int64)]
    category = np.where(line_tender < 0, core_category, tender_category)
    product = products["cat_start"][category] + np.floor(
        products["cat_count"][category] * rng.random(len(order_of_line)) ** 2.2).astype(np.int64)
    unit_price = np.maximum(np.round(products["list_price"][product]
                                     * firm_frame["price_discount"].to_numpy()[line_cust], 2), 0.01)
    units = line_value / unit_price
    quantity = (np.floor(units) + (rng.random(len(units)) < units - np.floor(units))).astype(np.int64)
    keep = quantity > 0
    lines = pd.DataFrame({"order": order_of_line[keep], "product": product[keep], "category": category[keep],
                          "quantity": quantity[keep], "unit_price": unit_price[keep]})
    seconds = rng.integers(7 * 3600, 18 * 3600, n_orders).astype("timedelta64[s]")
    ts = orders["day"].astype("datetime64[us]") + seconds
    return assemble_transactions(settings, rng, lines, {"cust": cust, "ts": ts, "days_to_pay": days_to_pay})


def generate_project_world(settings: SimulationSettings, seed: int) -> DemoTables:
    """Generate the project world's customers, transactions, firmographic snapshots and ground truth.

    Deterministic for (settings, seed): every draw comes from `np.random.default_rng(seed)` in a fixed order.
    """
    rng = np.random.default_rng(seed)
    customers, firm_frame, aux = _draw_firms(settings, rng)
    firmographics = _firmographics(rng, firm_frame, aux)
    products = catalogue(settings, rng)
    firms = Firms.from_frame(firm_frame)
    n = settings.n_customers
    no_wins = np.array([], dtype=np.int64)
    tenders = simulate_tenders(firms, np.arange(n), firms.tender_from, to_day(settings.end), no_wins,
                               no_wins.astype("datetime64[D]"), rng)
    orders = _orders(settings, rng, firms, tenders, firm_frame)
    transactions = _transactions(settings, rng, orders, tenders, aux, firm_frame, products)
    return demo_tables(customers, transactions, firmographics, _ground_truth(firm_frame, tenders))
