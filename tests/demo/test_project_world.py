"""Tests of the project world's process (demo/project_simulator.py): the self-exciting tenders, what a project
and a bid leave in the transactions, fiscal-year seasonality, and attributes that carry no signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kruskal, spearmanr

from demo.common import DemoTables
from demo.process import DAYS_PER_YEAR, month_starts, to_day
from demo.project_process import MOMENTUM_DAYS, TENDER_PROFILE, Firms, simulate_tenders
from features.labels import KeyAccountRule, build_labels
from tests.demo.conftest import PROJECT_MEDIUM, realised_spend

START = np.datetime64("2020-01-01")


def _one_firm(tender_rate: float, momentum: float, win_probability: float) -> Firms:
    """A single hand-made firm (fiscal year = calendar year; the run-rate and project fields do not matter)."""
    def one(value: float) -> np.ndarray:
        return np.array([value])

    day = np.array([START])
    return Firms(customer_id=np.array(["C1"], dtype=object), active_from=day, active_until=day + 3650,
                 tender_from=day, run_rate=one(0.0), run_rate_ref=day, run_rate_growth=one(0.0),
                 fiscal_year_end_month=np.array([12]), budget_amplitude=one(0.0), tender_rate=one(tender_rate),
                 momentum=one(momentum), win_probability=one(win_probability), project_scale=one(1000.0),
                 sample_order_value=one(10.0), return_share=one(0.0))


def _rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype=np.int64), np.full(n, START)


def test_tenders_arrive_at_the_base_rate_with_the_fiscal_profile() -> None:
    firm = _one_firm(tender_rate=1.2, momentum=0.0, win_probability=0.5)
    rows, open_from = _rows(20_000)
    no_wins = np.array([], dtype=np.int64)
    tenders = simulate_tenders(firm, rows, open_from, START + 365 * 2, no_wins, no_wins.astype("datetime64[D]"),
                               np.random.default_rng(1))
    years = 730 / DAYS_PER_YEAR
    assert len(tenders.firm) / len(rows) == pytest.approx(1.2 * years, rel=0.02)
    month = tenders.arrival.astype("datetime64[M]").astype(np.int64) % 12
    by_month = np.bincount(month, minlength=12) / len(tenders.firm)
    days = np.diff(month_starts(START, START + 365)).astype(np.int64)[:12]
    expected = TENDER_PROFILE * days / (TENDER_PROFILE * days).sum()
    np.testing.assert_allclose(by_month, expected, rtol=0.04)
    assert (tenders.won.mean() == pytest.approx(0.5, abs=0.01))
    assert ((tenders.decision - tenders.arrival).astype(int) >= 90).all()
    assert (tenders.project_start > tenders.decision).all()


def test_a_won_decision_brings_its_momentum_in_follow_on_tenders() -> None:
    """One known win, no base rate, no further wins: the expected follow-on tenders are momentum times the
    decaying kernel summed over the month starts after the decision."""
    momentum = 3.0
    firm = _one_firm(tender_rate=0.0, momentum=momentum, win_probability=0.0)
    rows, open_from = _rows(20_000)
    decision = START + 10
    stop = START + 3650
    tenders = simulate_tenders(firm, rows, open_from, stop, np.arange(len(rows)), np.full(len(rows), decision),
                               np.random.default_rng(2))
    starts = month_starts(START, stop)
    after = starts[:-1] > decision
    kernel = np.exp(-(starts[:-1][after] - decision).astype(float) / MOMENTUM_DAYS)
    expected = momentum * (kernel * np.diff(starts).astype(float)[after]).sum() / DAYS_PER_YEAR
    assert expected == pytest.approx(momentum * MOMENTUM_DAYS / DAYS_PER_YEAR, rel=0.1)
    assert len(tenders.firm) / len(rows) == pytest.approx(expected, rel=0.03)
    assert (tenders.arrival >= np.datetime64("2020-02-01")).all(), "momentum counts from the next month start"


def test_wins_bring_further_tenders_in_the_generated_world(project_medium: DemoTables) -> None:
    gt = project_medium.ground_truth
    tenders = gt[gt["tender_id"].notna() & gt["momentum_firm"]]
    window = pd.Timedelta(days=240)
    decided = tenders[tenders["decision_date"] + window <= pd.Timestamp(PROJECT_MEDIUM.end)]
    arrivals = tenders.groupby("customer_id")["tender_arrival"].apply(np.sort)

    def followers(row: pd.Series) -> int:
        days = arrivals[row["customer_id"]]
        return int(((days > row["decision_date"]) & (days <= row["decision_date"] + window)).sum())

    follow = decided.apply(followers, axis=1)
    won, lost = follow[decided["won"]].mean(), follow[~decided["won"]].mean()
    assert len(decided) > 200
    assert won > 1.5 * lost, f"{won:.2f} tenders within 240 days of a win, {lost:.2f} of a loss"


def _tenders(gt: pd.DataFrame) -> pd.DataFrame:
    """The tenders of a ground truth, with the day their project ends (if won) or their bid ends (if lost)."""
    tenders = gt[gt["tender_id"].notna()].copy()
    project_end = tenders["project_start"] + pd.to_timedelta(tenders["project_days"], unit="D")
    tenders["busy_until"] = project_end.where(tenders["won"], tenders["decision_date"])
    tenders["project_end"] = project_end
    return tenders


def _alone(tenders: pd.DataFrame, lo: pd.Series, hi: pd.Series) -> pd.Series:
    """Whether no other tender of the firm is open or running in [lo, hi) (Series aligned with tenders)."""
    chosen = tenders.assign(lo=lo, hi=hi)[["customer_id", "tender_id", "lo", "hi"]]
    pairs = tenders.merge(chosen, on="customer_id", suffixes=("", "_chosen"))
    clash = pairs[(pairs["tender_id"] != pairs["tender_id_chosen"]) & (pairs["busy_until"] > pairs["lo"])
                  & (pairs["tender_arrival"] < pairs["hi"])]
    return ~tenders["tender_id"].isin(clash["tender_id_chosen"])


def test_a_project_adds_its_size_peaking_mid_span(project_medium: DemoTables) -> None:
    """A firm's project, alone from its bid to its end, adds its size to the firm's run-rate spend over its
    span, and more of it falls in the middle third of the span than in the first."""
    tx, gt = project_medium.transactions, project_medium.ground_truth
    tenders = _tenders(gt)
    inside = tenders["won"] & (tenders["project_start"] >= PROJECT_MEDIUM.start) & (
        tenders["project_end"] + pd.Timedelta(days=10) < PROJECT_MEDIUM.end)
    projects = tenders[inside & _alone(tenders, tenders["tender_arrival"], tenders["project_end"])]
    assert len(projects) >= 50
    firms = Firms.from_frame(gt)
    position = pd.Index(firms.customer_id).get_indexer(projects["customer_id"])

    def extra_spend(lo: pd.Series, hi: pd.Series) -> np.ndarray:
        """Realised spend in [lo, hi) minus the firm's expected run-rate spend there."""
        rows = tx.join(pd.DataFrame({"lo": lo, "hi": hi}).set_index(projects["customer_id"]), on="customer_id",
                       how="inner")
        inside = rows[(rows["timestamp"] >= rows["lo"]) & (rows["timestamp"] < rows["hi"])]
        realised = inside.groupby("customer_id")["amount"].sum().reindex(projects["customer_id"], fill_value=0.0)
        run_rate = [firms.run_rate_spend(to_day(a), to_day(b))[i] for a, b, i in zip(lo, hi, position, strict=True)]
        return realised.to_numpy() - np.array(run_rate) * (1 - firms.return_share[position])

    start, third = projects["project_start"], pd.to_timedelta(projects["project_days"] / 3, unit="D")
    extra = extra_spend(start, projects["project_end"] + pd.Timedelta(days=7))
    net_size = projects["project_size"] * (1 - projects["expected_return_share"])
    assert extra.sum() / net_size.sum() == pytest.approx(1.0, abs=0.1)
    assert spearmanr(extra, net_size).statistic > 0.8  # each a Poisson number of Gamma(2) calls
    first, middle = extra_spend(start, start + third), extra_spend(start + third, start + 2 * third)
    assert np.mean(middle / net_size) > np.mean(first / net_size) + 0.1  # Beta(2, 2): 0.48 of the size, 0.26


def test_bids_show_as_more_orders_in_new_categories(project_medium: DemoTables) -> None:
    """While a tender is open the firm places its sample orders: more orders than in as many days before, and
    lines in categories it had not bought in the year before the bid."""
    tx, gt = project_medium.transactions, project_medium.ground_truth
    invoices = tx[~tx["invoice_id"].str.startswith("CN")]
    tenders = _tenders(gt)
    tenders["bid_length"] = tenders["decision_date"] - tenders["tender_arrival"]
    year_before = tenders["tender_arrival"] - pd.Timedelta(days=365)
    bids = tenders[(year_before >= PROJECT_MEDIUM.start) & (tenders["decision_date"] < PROJECT_MEDIUM.end)
                   & _alone(tenders, year_before, tenders["decision_date"])].set_index("tender_id")
    assert len(bids) >= 100

    def window(lo: pd.Series, hi: pd.Series) -> pd.DataFrame:
        """Invoice lines of each bid's firm in its [lo, hi), with the bid's tender_id."""
        rows = invoices.merge(pd.DataFrame({"customer_id": bids["customer_id"], "lo": lo, "hi": hi}).reset_index(),
                              on="customer_id")
        return rows[(rows["timestamp"] >= rows["lo"]) & (rows["timestamp"] < rows["hi"])]

    def orders(lines: pd.DataFrame) -> pd.Series:
        return lines.groupby("tender_id")["invoice_id"].nunique().reindex(bids.index, fill_value=0)

    during = window(bids["tender_arrival"], bids["decision_date"])
    before = window(bids["tender_arrival"] - bids["bid_length"], bids["tender_arrival"])
    assert orders(during).mean() > orders(before).mean() + 2.0  # three sample orders expected per bid
    year = window(bids["tender_arrival"] - pd.Timedelta(days=365), bids["tender_arrival"])
    known = set(zip(year["tender_id"], year["category"], strict=True))
    new = [(t, c) not in known for t, c in zip(during["tender_id"], during["category"], strict=True)]
    assert during[new]["tender_id"].nunique() > 0.6 * len(bids)


def test_tenders_open_early_in_the_fiscal_year_and_budgets_flush_at_its_end(project_medium: DemoTables) -> None:
    gt, tx = project_medium.ground_truth, project_medium.transactions
    december = gt[gt["fiscal_year_end_month"] == 12]
    arrived = december.loc[december["tender_id"].notna(), "tender_arrival"].dt.month
    # momentum's follow-on tenders come at any time of the year and dilute the profile's 1.8 ratio
    assert arrived.isin([1, 2, 3]).sum() > 1.2 * arrived.isin([10, 11, 12]).sum()
    run_rate_only = december.loc[~december["bidder"], "customer_id"].unique()
    sales = tx[tx["customer_id"].isin(run_rate_only) & (tx["amount"] > 0)]
    by_month = sales.groupby(sales["timestamp"].dt.month)["amount"].sum()
    assert by_month[12] > 1.15 * by_month[10]
    assert by_month[12] > 1.3 * by_month[1]


def _outcome(tables: DemoTables, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Eligibility and label at the cutoff (12-month windows, the default key-account rule), with the
    customers' attributes."""
    customers = tables.customers
    spine = pd.DataFrame({"customer_id": customers["customer_id"], "cutoff": cutoff})
    labels = build_labels(tables.transactions, spine, KeyAccountRule(), horizon_months=12, active_months=12)
    return labels.merge(customers, on="customer_id")


def test_a_few_percent_of_the_small_customers_become_key_accounts(project_medium: DemoTables) -> None:
    labels = _outcome(project_medium, PROJECT_MEDIUM.start + pd.DateOffset(years=2))
    eligible = labels[labels["eligible"]]
    assert len(eligible) > 1000
    assert 0.02 <= eligible["became_key_account"].mean() <= 0.10


def test_company_age_and_country_carry_no_signal(project_medium: DemoTables) -> None:
    """The process never reads founded_year or country: independence is not rejected (at 1 %) for next year's
    spend, the label and the latent parameters, while size and industry clearly carry signal."""
    cutoff = PROJECT_MEDIUM.start + pd.DateOffset(years=2)
    labels = _outcome(project_medium, cutoff)
    spend = realised_spend(project_medium.transactions, cutoff, cutoff + pd.DateOffset(years=1))
    frame = labels.assign(spend=labels["customer_id"].map(spend).fillna(0.0))
    eligible = frame[frame["eligible"]].assign(label=lambda f: f["became_key_account"].astype(float))

    def across(groups: pd.DataFrame, column: str, value: str) -> float:
        """p-value of Kruskal-Wallis: does `value` differ between the groups of `column`?"""
        return kruskal(*[group[value].to_numpy() for _, group in groups.groupby(column)]).pvalue

    assert spearmanr(frame["founded_year"], frame["spend"]).pvalue > 0.01
    assert spearmanr(eligible["founded_year"], eligible["label"]).pvalue > 0.01
    assert across(frame, "country", "spend") > 0.01
    assert across(eligible, "country", "label") > 0.01
    assert spearmanr(frame["employees"], frame["spend"]).statistic > 0.4
    assert across(frame, "industry", "spend") < 1e-6
    firms = project_medium.ground_truth.drop_duplicates("customer_id").merge(project_medium.customers,
                                                                              on="customer_id")
    for latent in ("run_rate", "project_scale", "tender_rate", "branching_ratio", "win_probability"):
        assert spearmanr(firms["founded_year"], firms[latent]).pvalue > 0.01, latent
        assert across(firms, "country", latent) > 0.01, latent


def test_firmographics_show_size_only(project_medium: DemoTables) -> None:
    firmo = project_medium.firmographics.sort_values("valid_from")
    growth = np.log(firmo.groupby("customer_id")["employees"].agg(["first", "last"])).diff(axis=1)["last"]
    firms = project_medium.ground_truth.drop_duplicates("customer_id").set_index("customer_id")
    momentum = firms["momentum_firm"].reindex(growth.index)
    assert abs(growth[momentum].median() - growth[~momentum].median()) < 0.03
    assert to_day(PROJECT_MEDIUM.start) == firmo["valid_from"].min().to_datetime64().astype("datetime64[D]")
