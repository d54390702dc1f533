"""Synthetic B2B sales data with a known generating process (the demo data source).

`generate_demo(settings, seed)` returns four tables (see `DemoTables`): customers, invoice-line
transactions, yearly firmographic snapshots and the latent ground truth of every customer. Everything is
drawn from one `np.random.default_rng(seed)`, so the output is a pure function of (settings, seed).

Tables
------
* customers: customer_id, company_name, industry, country, region, employees and annual_revenue (latest
  snapshot), founded_year, credit_rating, acquisition_channel, account_owner, first_order_date (day of the
  first transaction line, NaT if the customer never ordered).
* transactions: one row per invoice line (invoice_id "INV..." or credit note "CN..."), customer_id,
  timestamp, product_id, category, quantity (negative on credit notes), unit_price, amount
  (= round(quantity * unit_price, 2)), days_to_pay (NaN on credit notes); sorted by timestamp, invoice_id.
* firmographics: customer_id, valid_from (Jan 1 of each year the firm exists in the period), employees,
  annual_revenue.
* ground_truth: the latent parameters listed below.

Generating process (time in days; one calendar month is the simulation step)
----------------------------------------------------------------------------
* Firms: industry, country, employees (log-normal), credit rating (better for larger firms), age,
  acquisition channel (larger firms mostly via field sales), arrival (42 % before the period).
* Growers: P(grower) = GROWER_BASE times relative chances for credit rating, industry, size band
  (_SIZE_BANDS), acquisition channel and a young firm (< 10 years), about 20 % of firms: observable priors.
* wallet(t) = wallet * exp(wallet_growth * years since wallet_ref_date): the yearly spend the firm could
  place with us, driven by size and industry. It grows with the firm (employees drift with the same rate in
  the firmographics; growers grow faster).
* share(t) = share_initial + (share_max - share_initial) * engaged(t) is the share of wallet we win, with
  ``engaged(t) = progress(t) + pilot_share * trial(t)``,
  ``progress(t) = smoothstep((t - adoption_onset) / adoption_ramp_days)`` (0 before the onset, 1 after the
  ramp of 1.5-6 months) and ``trial(t) = pilot(t) * (1 - progress(t))``. A grower makes us a main supplier
  (share_max 40-65 % of its wallet, at least 1.5 * share_initial); anyone else drifts
  (share_max = share_initial * lognormal(0, 0.25)). Onsets are uniform over [start - 2 years, end + 1 year];
  a grower's onset comes at least pilot_days after its arrival.
* Pilot (growers only): ``pilot(t)`` rises from 0 at adoption_onset - pilot_days (9-12 months) to 1 within
  PILOT_RAMP_DAYS. While it runs, spend rises by pilot_share (10-14 %) of the increase to come, orders get
  smaller (mean order value * (1 - TRIAL_ORDER_SHRINK * trial(t))) so order frequency rises more than spend,
  the firm opens new categories (breadth below) and up to TRIAL_LINE_SHARE of its lines trial them, pays
  more promptly and hires (firmographics below): leading signals months before spend ramps.
* Churners decline first: the spend rate is multiplied by ``decline(t)``, 1 until decline_from, then
  falling linearly to 1 - DECLINE_DEPTH over decline_days (2-8 months) until the churn day (no orders on or
  after it).
* The expected gross spend of a calendar month M is
  ``wallet(mid_M) * share(mid_M) * decline(mid_M) / 12 * (1 + seasonality_amplitude * (SEASONAL_PROFILE[M] - 1))``
  spread evenly over the business days (Mon-Fri) of M, and only business days in
  [active_from, active_until) count (arrival, churn and the simulated period).
* Orders in a month ~ Poisson(expected spend of the month / mean order value), each order's value ~
  Gamma(ORDER_VALUE_SHAPE) with mean ``order_value_scale * rate(mid) ** ORDER_VALUE_EXPONENT *
  (1 - TRIAL_ORDER_SHRINK * trial(mid))``, rate = wallet * share * decline; the order day is uniform
  over the customer's active business days of the month. Frequency and order size therefore both rise
  with the share.
* An order's value is split over 1..15 lines (more lines for broader customers), each line of a product
  from one of the customer's
  ``breadth(t) = clip(round(breadth_initial + breadth_gain * max(progress(t), PILOT_BREADTH * pilot(t))))``
  preferred categories (a grower's breadth_gain grows with log(share_max / share_initial)); with probability
  TRIAL_LINE_SHARE * trial(t) a line is drawn from the newly opened ones. Quantities are stochastically
  rounded (E[quantity * unit_price] = line value).
* days_to_pay shrinks with a good credit rating and, for growers, with max(pilot, progress).
* Firmographics: yearly snapshots (Jan 1) of employees drifting with wallet_growth, times
  exp(hiring_step * max(pilot, progress)) for growers; revenue = employees * productivity.
* A share RETURN_PROBABILITY of invoices gets a credit note 2..25 business days later that returns each
  line with probability RETURN_LINE_PROBABILITY (full quantity), so the expected net spend is
  gross * (1 - expected_return_share). Credit notes that would fall after the period are not issued.

ground_truth columns (one row per customer)
-------------------------------------------
customer_id; arrival_date (first day the firm could order, may precede the period); churn_date (no orders
on or after it; NaT if it does not churn inside the period); active_from / active_until (the ordering
interval clipped to the simulated period, end exclusive); wallet (EUR/year at wallet_ref_date);
wallet_ref_date; wallet_growth (log growth per year); share_initial; share_max; adoption_onset;
adoption_ramp_days; grower (drawn as a growth customer); pilot_days (0 for non-growers); pilot_share;
churn_probability (the chance it was drawn to churn, from its rating and grower flag); decline_from (start
of the pre-churn decline, NaT if the firm does not churn within the period or the two years after);
decline_days; hiring_step; seasonality_amplitude; order_value_scale; breadth_initial; breadth_gain;
pay_days_base (typical days to pay before adoption effects); price_discount (factor on list
prices); expected_return_share (value share returned via credit notes).

The expected spend under this process is the oracle (demo/oracle.py).
"""

from __future__ import annotations

import logging

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
from demo.process import (
    DAYS_PER_YEAR,
    DECLINE_MAX_DAYS,
    DECLINE_MIN_DAYS,
    Latent,
    month_starts,
    to_day,
)

log = logging.getLogger(__name__)


ORDER_VALUE_SHAPE = 3.0
PILOT_BREADTH = 0.6  # share of the breadth gain a grower explores during its pilot
TRIAL_LINE_SHARE = 0.6  # during the pilot up to this share of lines trials the newly opened categories
PILOT_MIN_DAYS, PILOT_MAX_DAYS = 270.0, 365.0
_RATING_GROWTH = np.array([1.5, 1.35, 1.2, 1.0, 0.8, 0.55, 0.3])  # relative chance to be a grower
_RATING_CHURN = np.array([0.6, 0.7, 0.8, 1.0, 1.2, 1.45, 1.8])
_RATING_PROMPT_GAIN = np.array([0.4, 0.35, 0.3, 0.22, 0.12, 0.05, 0.0])

# name, population weight, wallet weight, seasonality amplitude, revenue per employee (EUR),
# relative chance to be a grower (expanding sectors consolidate suppliers more often)
_INDUSTRIES = (
    ("Manufacturing", 0.14, 1.6, 0.6, 230_000, 1.1),
    ("Wholesale", 0.10, 1.4, 0.8, 450_000, 1.0),
    ("Retail", 0.12, 0.9, 1.4, 180_000, 0.7),
    ("Construction", 0.10, 1.3, 1.2, 200_000, 1.3),
    ("Healthcare", 0.07, 0.9, 0.3, 120_000, 1.3),
    ("Hospitality", 0.08, 0.7, 1.6, 70_000, 0.6),
    ("Logistics", 0.08, 1.2, 0.9, 160_000, 1.5),
    ("IT Services", 0.08, 0.5, 0.5, 150_000, 1.4),
    ("Education", 0.05, 0.6, 1.1, 90_000, 0.5),
    ("Public Sector", 0.05, 0.8, 1.0, 110_000, 0.4),
    ("Agriculture", 0.05, 0.9, 1.3, 250_000, 0.6),
    ("Automotive", 0.08, 1.5, 0.7, 300_000, 1.0),
)
_CHANNEL_GROWTH = np.array([1.3, 1.0, 0.7, 1.15, 0.9])  # relative chance to be a grower
# employees band upper bounds and relative chance to be a grower: growing mid-sized firms expand most
_SIZE_BANDS = np.array([5.0, 20.0, 250.0])
_SIZE_GROWTH = np.array([0.6, 1.0, 1.4, 0.9])
GROWER_BASE = 0.2  # chance to be a grower for an average firm (before the multipliers)

def _draw_customers(settings: SimulationSettings, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Static attributes and latent parameters (arrays in `aux` feed the transaction simulation)."""
    n = settings.n_customers
    start, end = to_day(settings.start), to_day(settings.end)
    period_days = int((end - start).astype(np.int64))
    start_year = int(settings.start.year)
    last_year = int((settings.end - pd.Timedelta(days=1)).year)

    ind_p = np.array([i[1] for i in _INDUSTRIES])
    industry = rng.choice(len(_INDUSTRIES), size=n, p=ind_p / ind_p.sum())
    cty_p = np.array([c[2] for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n, p=cty_p / cty_p.sum())
    log_emp = rng.normal(np.log(15.0), 1.6, n)
    emp0 = np.clip(np.exp(log_emp), 1.0, 40_000.0)

    rating_score = rng.normal(size=n) - 0.35 * (log_emp - log_emp.mean()) / log_emp.std()
    rank = np.argsort(np.argsort(rating_score, kind="stable"), kind="stable") / n
    rating = np.searchsorted(np.cumsum(RATING_SHARE)[:-1], rank, side="right")

    age = np.floor(np.exp(rng.normal(np.log(14.0), 0.9, n) + 0.12 * (log_emp - np.log(15.0)))) - 2
    founded = np.clip(start_year - age, 1850, last_year).astype(np.int64)
    founded_day = pd.to_datetime(pd.Series(founded).astype(str) + "-01-01").to_numpy().astype("datetime64[D]")

    pre = rng.random(n) < 0.42
    arrival_offset = np.where(pre, -rng.uniform(1, 8 * DAYS_PER_YEAR, n), rng.uniform(0, period_days, n))
    arrival = np.maximum(start + np.floor(arrival_offset).astype("timedelta64[D]"), founded_day)
    active_from = np.maximum(arrival, start)

    large = emp0 >= 200
    channel = np.where(
        large,
        rng.choice(len(CHANNELS), n, p=CHANNEL_LARGE),
        rng.choice(len(CHANNELS), n, p=CHANNEL_SMALL),
    )
    young = (start_year - founded) < 10
    p_grow = GROWER_BASE * (
        _RATING_GROWTH[rating]
        * np.array([i[5] for i in _INDUSTRIES])[industry]
        * _SIZE_GROWTH[np.searchsorted(_SIZE_BANDS, emp0, side="right")]
        * _CHANNEL_GROWTH[channel]
        * np.where(young, 1.25, 0.9)
    )
    grower = rng.random(n) < np.clip(p_grow, 0.0, 0.9)
    share_initial = np.clip(rng.beta(1.3, 16.0, n), 0.003, 0.6)
    main_supplier_share = rng.uniform(0.4, 0.65, n)  # growers make us a main supplier of their wallet
    drift_mult = np.exp(rng.normal(0.0, 0.25, n))
    share_max = np.clip(
        np.where(grower, np.maximum(main_supplier_share, 1.5 * share_initial), share_initial * drift_mult),
        0.002,
        0.92,
    )
    onset_offset = rng.uniform(-2.0 * DAYS_PER_YEAR, period_days + 1.0 * DAYS_PER_YEAR, n)
    onset = start + np.floor(onset_offset).astype("timedelta64[D]")
    ramp_days = np.exp(rng.uniform(np.log(45.0), np.log(180.0), n))
    pilot_days = np.where(grower, rng.uniform(PILOT_MIN_DAYS, PILOT_MAX_DAYS, n), 0.0)
    # a grower pilots with us before it ramps: a new customer starts small, its onset follows its pilot
    onset = np.where(grower, np.maximum(onset, arrival + np.ceil(pilot_days).astype("timedelta64[D]")), onset)
    pilot_share = np.where(grower, rng.uniform(0.1, 0.14, n), 0.0)
    hiring_step = np.where(grower, rng.uniform(0.1, 0.35, n), 0.0)

    p_churn = np.clip(0.3 * _RATING_CHURN[rating] * np.where(grower, 0.5, 1.0), 0, 1)
    churns = rng.random(n) < p_churn
    churn_horizon = (end - active_from).astype(np.int64) + 2.0 * DAYS_PER_YEAR
    churn_offset = 30 + np.floor(rng.random(n) * churn_horizon).astype(np.int64)
    churn_at = active_from + churn_offset.astype("timedelta64[D]")
    churn_date = np.where(churns & (churn_at < end), churn_at, np.datetime64("NaT"))
    decline_days = np.where(churns, rng.uniform(DECLINE_MIN_DAYS, DECLINE_MAX_DAYS, n), np.nan)
    decline_from = np.where(
        churns, churn_at - np.round(np.nan_to_num(decline_days)).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    active_until = np.where(np.isnat(churn_date), end, np.minimum(churn_date, end))

    ind_weight = np.array([i[2] for i in _INDUSTRIES])[industry]
    wallet = 1400.0 * ind_weight * np.power(emp0, 0.68) * np.exp(rng.normal(0.0, 0.25, n))
    wallet_growth = rng.normal(0.01, 0.04, n) + grower * rng.uniform(0.02, 0.10, n)
    season_amp = np.clip(
        np.array([i[3] for i in _INDUSTRIES])[industry] * np.exp(rng.normal(0, 0.25, n)), 0.0, 2.5
    )
    order_value_scale = 3.0 * np.exp(rng.normal(0.0, 0.35, n))
    breadth_initial = 1 + rng.poisson(0.8 + 0.25 * np.clip(log_emp, 0, None), n)
    breadth_gain = np.where(
        grower, rng.uniform(2.5, 4.0, n) * np.log(share_max / share_initial), rng.uniform(0.0, 1.5, n)
    )
    pay_days_base = RATING_PAY_DAYS[rating] * np.exp(rng.normal(0.0, 0.25, n))
    price_discount = np.clip(
        1.0 - 0.025 * np.log1p(wallet * share_max / 1000.0) - rng.uniform(0, 0.08, n), 0.6, 1.0
    )

    width = max(6, len(str(n)))
    customer_id = ids("C", np.arange(1, n + 1), width)
    names = company_names(rng, country)
    reps = np.array(rep_names(settings.n_account_owners), dtype=object)
    owner = reps[rng.integers(0, len(reps), n)]

    def dt(values: np.ndarray) -> np.ndarray:
        return values.astype("datetime64[us]")

    gt = pd.DataFrame(
        {
            "customer_id": pd.array(customer_id, dtype="str"),
            "arrival_date": dt(arrival),
            "churn_date": dt(churn_date),
            "active_from": dt(active_from),
            "active_until": dt(active_until),
            "wallet": wallet,
            "wallet_ref_date": dt(np.full(n, start)),
            "wallet_growth": wallet_growth,
            "share_initial": share_initial,
            "share_max": share_max,
            "adoption_onset": dt(onset),
            "adoption_ramp_days": ramp_days,
            "grower": grower,
            "pilot_days": pilot_days,
            "pilot_share": pilot_share,
            "churn_probability": p_churn,
            "decline_from": dt(decline_from),
            "decline_days": decline_days,
            "hiring_step": hiring_step,
            "seasonality_amplitude": season_amp,
            "order_value_scale": order_value_scale,
            "breadth_initial": breadth_initial.astype(np.int64),
            "breadth_gain": breadth_gain,
            "pay_days_base": pay_days_base,
            "price_discount": price_discount,
            "expected_return_share": np.full(n, RETURN_PROBABILITY * RETURN_LINE_PROBABILITY),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": gt["customer_id"],
            "company_name": pd.array(names, dtype="str"),
            "industry": pd.array(np.array([i[0] for i in _INDUSTRIES], dtype=object)[industry], dtype="str"),
            "country": pd.array(np.array([c[0] for c in COUNTRIES], dtype=object)[country], dtype="str"),
            "region": pd.array(np.array([c[1] for c in COUNTRIES], dtype=object)[country], dtype="str"),
            "founded_year": founded,
            "credit_rating": pd.array(np.array(RATINGS, dtype=object)[rating], dtype="str"),
            "acquisition_channel": pd.array(np.array(CHANNELS, dtype=object)[channel], dtype="str"),
            "account_owner": pd.array(owner, dtype="str"),
        }
    )
    aux = {
        "industry": industry,
        "rating": rating,
        "emp0": emp0,
        "founded": founded,
        "grower": grower,
        "rev_per_emp": np.array([i[4] for i in _INDUSTRIES], dtype=float)[industry],
        "start_year": start_year,
        "last_year": last_year,
    }
    return customers, gt, aux


def _firmographics(rng: np.random.Generator, gt: pd.DataFrame, aux: dict) -> pd.DataFrame:
    """Yearly snapshots: employees and revenue drift with the firm's wallet growth; growers hire ahead of
    their growth (headcount rises with max(pilot, progress) by exp(hiring_step))."""
    n = len(gt)
    first = np.maximum(aux["founded"], aux["start_year"])
    counts = aux["last_year"] - first + 1
    row_cust = np.repeat(np.arange(n), counts)
    offsets = np.arange(len(row_cust)) - np.repeat(np.cumsum(counts) - counts, counts)
    year = first[row_cust] + offsets
    growth = gt["wallet_growth"].to_numpy()
    noise = rng.normal(0.0, 0.05, len(row_cust))
    latent = Latent.from_frame(gt)
    years = np.arange(aux["start_year"], aux["last_year"] + 1)
    jan1 = pd.to_datetime(pd.Series(years).astype(str) + "-01-01").to_numpy().astype("datetime64[D]")
    expanded = np.maximum(latent.pilot(jan1), latent.progress(jan1))[row_cust, year - aux["start_year"]]
    hiring = gt["hiring_step"].to_numpy()[row_cust] * expanded
    employees = aux["emp0"][row_cust] * np.exp(growth[row_cust] * (year - aux["start_year"]) + hiring + noise)
    employees = np.clip(np.round(employees), 1, 50_000).astype(np.int64)
    productivity = aux["rev_per_emp"] * np.exp(rng.normal(0.0, 0.35, n))
    revenue = employees * productivity[row_cust] * np.exp(rng.normal(0.0, 0.06, len(row_cust)))
    revenue = np.maximum(np.round(revenue, -3), 1000.0)
    valid_from = pd.to_datetime(pd.Series(year).astype(str) + "-01-01").to_numpy().astype("datetime64[us]")
    return pd.DataFrame(
        {
            "customer_id": gt["customer_id"].take(row_cust).reset_index(drop=True),
            "valid_from": valid_from,
            "employees": employees,
            "annual_revenue": revenue.astype("float64"),
        }
    )



def _simulate_orders(
    settings: SimulationSettings, rng: np.random.Generator, gt: pd.DataFrame, aux: dict, cat: dict[str, np.ndarray]
) -> pd.DataFrame:
    n, n_cat = len(gt), settings.n_categories
    latent = Latent.from_frame(gt)
    start, end = to_day(settings.start), to_day(settings.end)
    months = month_starts(start, end)
    parts = latent.month_parts(months, start, end)
    yearly, progress = parts["yearly"], parts["progress"]
    mov = latent.mean_order_value(yearly, parts["trial"])
    lam = parts["gross"] / mov
    n_orders = rng.poisson(lam)
    n_months = lam.shape[1]
    cell = np.repeat(np.arange(n * n_months), n_orders.ravel())
    cust = cell // n_months
    log.debug("demo: %d orders from %d customers", len(cell), n)

    # order day: uniform over the customer's active business days of the month
    lo = parts["lo"].ravel()[cell]
    n_days = parts["active_days"].ravel()[cell]
    day = np.busday_offset(lo, np.floor(rng.random(len(cell)) * n_days).astype(np.int64), roll="forward")
    order_value = rng.gamma(ORDER_VALUE_SHAPE, mov.ravel()[cell] / ORDER_VALUE_SHAPE)
    prog = progress.ravel()[cell]
    pilot = parts["pilot"].ravel()[cell]
    trial = parts["trial"].ravel()[cell]
    explored = np.maximum(prog, PILOT_BREADTH * pilot)  # the pilot opens new categories before spend ramps
    breadth = np.clip(
        np.round(gt["breadth_initial"].to_numpy()[cust] + gt["breadth_gain"].to_numpy()[cust] * explored),
        1,
        n_cat,
    ).astype(np.int64)
    lines_mean = 0.3 * (breadth - 1) + 0.4 * np.log(np.maximum(order_value, 50.0) / 50.0) + 0.3
    n_lines = np.minimum(1 + rng.poisson(lines_mean), MAX_LINES)

    # days to pay (per invoice): rating, customer habit, prompter while a grower pilots and adopts, noise
    prompt = _RATING_PROMPT_GAIN[aux["rating"]][cust] * aux["grower"][cust] * np.maximum(prog, pilot)
    pay = gt["pay_days_base"].to_numpy()[cust] * (1.0 - prompt) * np.exp(rng.normal(0.0, 0.3, len(cell)))
    days_to_pay = np.round(pay)

    # lines: split the order value (Dirichlet via normalised gammas), pick category and product
    order_of_line = np.repeat(np.arange(len(cell)), n_lines)
    weights = rng.gamma(2.0, 1.0, len(order_of_line))
    line_value = order_value[order_of_line] * weights / np.bincount(order_of_line, weights)[order_of_line]
    line_cust = cust[order_of_line]
    pref_keys = rng.gumbel(size=(n, n_cat)) + _industry_affinity(rng, n_cat)[aux["industry"]]
    preference = np.argsort(-pref_keys, axis=1)
    rank = np.floor(breadth[order_of_line] * rng.random(len(order_of_line)) ** 1.4).astype(np.int64)
    # pilot lines trial the newly opened categories (ranks breadth_initial .. breadth - 1)
    first_new = np.minimum(gt["breadth_initial"].to_numpy()[line_cust], n_cat)
    n_new = np.maximum(breadth[order_of_line] - first_new, 0)
    trial_line = (rng.random(len(order_of_line)) < TRIAL_LINE_SHARE * trial[order_of_line]) & (n_new > 0)
    new_rank = first_new + np.floor(n_new * rng.random(len(order_of_line))).astype(np.int64)
    rank = np.where(trial_line, new_rank, rank)
    category = preference[line_cust, rank]
    product = cat["cat_start"][category] + np.floor(
        cat["cat_count"][category] * rng.random(len(order_of_line)) ** 2.2
    ).astype(np.int64)
    unit_price = np.maximum(
        np.round(cat["list_price"][product] * gt["price_discount"].to_numpy()[line_cust], 2), 0.01
    )
    units = line_value / unit_price
    quantity = (np.floor(units) + (rng.random(len(units)) < units - np.floor(units))).astype(np.int64)
    keep = quantity > 0
    lines = pd.DataFrame(
        {
            "order": order_of_line[keep],
            "product": product[keep],
            "category": category[keep],
            "quantity": quantity[keep],
            "unit_price": unit_price[keep],
        }
    )
    seconds = rng.integers(7 * 3600, 18 * 3600, len(cell)).astype("timedelta64[s]")
    ts = day.astype("datetime64[us]") + seconds
    orders = {"cust": cust, "ts": ts, "days_to_pay": days_to_pay}
    return assemble_transactions(settings, rng, lines, orders)


def _industry_affinity(rng: np.random.Generator, n_cat: int) -> np.ndarray:
    return rng.normal(0.0, 1.0, (len(_INDUSTRIES), n_cat))


# --------------------------------------------------------------------------------------------- entry point
def generate_demo(settings: SimulationSettings, seed: int) -> DemoTables:
    """Generate customers, transactions, firmographic snapshots and ground truth.

    Deterministic for (settings, seed): every draw comes from `np.random.default_rng(seed)` in a fixed order.
    """
    rng = np.random.default_rng(seed)
    customers, gt, aux = _draw_customers(settings, rng)
    firmographics = _firmographics(rng, gt, aux)
    products = catalogue(settings, rng)
    transactions = _simulate_orders(settings, rng, gt, aux, products)
    return demo_tables(customers, transactions, firmographics, gt)
