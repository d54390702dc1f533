"""Tests of the adoption world's simulator: the statistical shape of its process (the tables of both worlds:
test_tables.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo.common import DemoTables


def _window_stats(tx: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Per customer: orders, distinct categories, net spend and mean days to pay of its invoices in its own
    window [lo, hi) (windows: index customer_id, columns lo, hi)."""
    invoices = tx[~tx["invoice_id"].str.startswith("CN")].join(windows, on="customer_id", how="inner")
    inside = invoices[(invoices["timestamp"] >= invoices["lo"]) & (invoices["timestamp"] < invoices["hi"])]
    grouped = inside.groupby("customer_id")
    stats = {
        "orders": grouped["invoice_id"].nunique(),
        "categories": grouped["category"].nunique(),
        "spend": grouped["amount"].sum(),
        "days_to_pay": inside.drop_duplicates("invoice_id").groupby("customer_id")["days_to_pay"].mean(),
    }
    return pd.DataFrame(stats).reindex(windows.index)


def test_pilot_foreshadows_adoption(long: DemoTables) -> None:
    """Before a grower's spend ramps, its pilot shows: more (smaller) orders in more categories, prompter payment,
    while spend rises far less than it will once adoption is complete."""
    tx, gt = long.transactions, long.ground_truth.set_index("customer_id")
    half_year = pd.Timedelta(days=180)
    pilot_start = gt["adoption_onset"] - pd.to_timedelta(gt["pilot_days"], unit="D")
    onset_end = gt["adoption_onset"] + pd.to_timedelta(gt["adoption_ramp_days"], unit="D")
    chosen = (
        gt["grower"]
        & (pilot_start - half_year >= gt["active_from"])
        & (onset_end + half_year <= gt["active_until"])
    )
    assert chosen.sum() >= 20
    ids = gt.index[chosen]
    before = _window_stats(tx, pd.DataFrame({"lo": pilot_start[ids] - half_year, "hi": pilot_start[ids]}))
    onset = gt["adoption_onset"][ids]
    pilot = _window_stats(tx, pd.DataFrame({"lo": onset - half_year, "hi": onset}))
    after = _window_stats(tx, pd.DataFrame({"lo": onset_end[ids], "hi": onset_end[ids] + half_year}))
    b, p, a = before.fillna({"orders": 0, "categories": 0, "spend": 0}), pilot.fillna(0), after.fillna(0)
    assert (p["orders"] > b["orders"]).mean() > 0.75
    assert (p["categories"] > b["categories"]).mean() > 0.6
    assert (pilot["days_to_pay"] < before["days_to_pay"]).mean() > 0.55
    order_growth = (p["orders"] + 1) / (b["orders"] + 1)
    spend_growth = (p["spend"] + 1) / (b["spend"] + 1)
    assert (order_growth > spend_growth).mean() > 0.6, "pilot orders are small"
    assert (a["spend"] > 2 * p["spend"]).mean() > 0.7, "the spend ramp comes after the pilot"


def test_churners_decline_before_they_leave(medium: DemoTables) -> None:
    tx, gt = medium.transactions, medium.ground_truth.set_index("customer_id")
    year = pd.Timedelta(days=365)
    churn = gt["decline_from"] + pd.to_timedelta(gt["decline_days"], unit="D")
    chosen = gt["churn_date"].notna() & (gt["decline_from"] - year >= gt["active_from"]) & ~gt["grower"]
    chosen &= gt["decline_days"] >= 120
    assert chosen.sum() >= 20
    ids = gt.index[chosen]
    early = _window_stats(tx, pd.DataFrame({"lo": gt["decline_from"][ids] - year, "hi": gt["decline_from"][ids]}))
    late = _window_stats(tx, pd.DataFrame({"lo": churn[ids] - pd.Timedelta(days=60), "hi": churn[ids]}))
    rate_early, rate_late = early["spend"].fillna(0) / 365, late["spend"].fillna(0) / 60
    assert (rate_late < rate_early).mean() > 0.7
    invoices = tx[~tx["invoice_id"].str.startswith("CN")]
    last_order = invoices.groupby("customer_id")["timestamp"].max().reindex(ids).dropna()
    assert (last_order < gt["churn_date"][last_order.index]).all()


def test_growth_propensity_follows_firmographics(medium: DemoTables) -> None:
    """Growers are more likely in expanding industries, mid-sized firms and with good credit: observable priors."""
    cust = medium.customers.set_index("customer_id")
    grower = medium.ground_truth.set_index("customer_id")["grower"]
    by_industry = grower.groupby(cust["industry"]).mean()
    assert by_industry["Logistics"] > 1.5 * by_industry["Public Sector"]
    good = cust["credit_rating"].isin(["AAA", "AA", "A"])
    bad = cust["credit_rating"].isin(["B", "CCC"])
    assert grower[good].mean() > 1.5 * grower[bad].mean()
    assert 0.12 < grower.mean() < 0.3


def test_growers_hire_ahead_of_growth(medium: DemoTables) -> None:
    firmo = medium.firmographics
    gt = medium.ground_truth.set_index("customer_id")
    first_last = firmo.sort_values("valid_from").groupby("customer_id")["employees"].agg(["first", "last"])
    growth = np.log(first_last["last"] / first_last["first"])
    grower = gt["grower"].reindex(growth.index)
    assert growth[grower].median() > growth[~grower].median() + 0.05


def test_seasonality_year_end_peak(medium: DemoTables) -> None:
    tx = medium.transactions
    gross = tx[tx["amount"] > 0]
    by_month = gross.groupby(gross["timestamp"].dt.month)["amount"].sum()
    assert by_month[12] > by_month[8]
