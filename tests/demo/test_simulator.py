"""Tests of the demo simulator: determinism, schemas, hazards and the statistical shape of the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo.simulator import DemoTables, generate_demo
from tests.demo.conftest import MEDIUM, SMALL, realised_spend

CUSTOMER_DTYPES = {
    "customer_id": "str",
    "company_name": "str",
    "industry": "str",
    "country": "str",
    "region": "str",
    "employees": "int64",
    "annual_revenue": "float64",
    "founded_year": "int64",
    "credit_rating": "str",
    "acquisition_channel": "str",
    "account_owner": "str",
    "first_order_date": "datetime64[us]",
}
TRANSACTION_DTYPES = {
    "invoice_id": "str",
    "customer_id": "str",
    "timestamp": "datetime64[us]",
    "product_id": "str",
    "category": "str",
    "quantity": "int64",
    "unit_price": "float64",
    "amount": "float64",
    "days_to_pay": "float64",
}
FIRMOGRAPHIC_DTYPES = {
    "customer_id": "str",
    "valid_from": "datetime64[us]",
    "employees": "int64",
    "annual_revenue": "float64",
}


def _dtypes(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Column names and dtypes, in order."""
    return [(col, str(dtype)) for col, dtype in frame.dtypes.items()]


def _top_set(spend: pd.Series, share: float = 0.8) -> pd.Series:
    """The largest customers that together make up `share` of the revenue."""
    ranked = spend[spend > 0].sort_values(ascending=False)
    cumulative = ranked.cumsum().to_numpy() / ranked.sum()
    return ranked.iloc[: int(np.searchsorted(cumulative, share)) + 1]


# --------------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_tables(small: DemoTables) -> None:
    again = generate_demo(SMALL, seed=7)
    for name in ("customers", "transactions", "firmographics", "ground_truth"):
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))


def test_different_seed_gives_different_tables(small: DemoTables) -> None:
    other = generate_demo(SMALL, seed=8)
    assert not other.transactions.equals(small.transactions)
    assert not other.customers.equals(small.customers)


# --------------------------------------------------------------------------------------------- schemas
def test_exact_columns_and_dtypes(small: DemoTables) -> None:
    assert _dtypes(small.customers) == list(CUSTOMER_DTYPES.items())
    assert _dtypes(small.transactions) == list(TRANSACTION_DTYPES.items())
    assert _dtypes(small.firmographics) == list(FIRMOGRAPHIC_DTYPES.items())
    assert small.ground_truth["customer_id"].tolist() == small.customers["customer_id"].tolist()


def test_customers_table(small: DemoTables) -> None:
    cust = small.customers
    assert len(cust) == SMALL.n_customers
    assert cust["customer_id"].is_unique
    assert cust["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert cust["industry"].nunique() >= 10
    assert cust["country"].nunique() >= 8
    assert (cust.groupby("country")["region"].nunique() == 1).all(), "region must follow from country"
    assert set(cust["credit_rating"]) <= {"AAA", "AA", "A", "BBB", "BB", "B", "CCC"}
    assert cust["account_owner"].nunique() == SMALL.n_account_owners
    assert cust["employees"].between(1, 50_000).all()
    assert (cust["annual_revenue"] > 0).all()
    assert (cust["founded_year"] < SMALL.end.year).all()
    assert cust.notna().drop(columns="first_order_date").all().all()
    # heavy-tailed size: the largest firm is far above the median one
    assert cust["employees"].max() > 30 * cust["employees"].median()


def test_transactions_table(small: DemoTables) -> None:
    tx = small.transactions
    assert len(tx) > 10 * SMALL.n_customers
    assert tx["customer_id"].isin(small.customers["customer_id"]).all()
    assert tx["timestamp"].min() >= SMALL.start
    assert tx["timestamp"].max() < SMALL.end
    assert tx["timestamp"].dt.hour.between(7, 17).all(), "business hours"
    assert (tx["timestamp"].dt.day_of_week < 5).all(), "business days"
    assert (tx["unit_price"] > 0).all()
    assert (tx["quantity"] != 0).all()
    np.testing.assert_array_equal(tx["amount"], np.round(tx["quantity"] * tx["unit_price"], 2))
    # sorted by timestamp, then invoice_id
    keys = tx[["timestamp", "invoice_id"]]
    pd.testing.assert_frame_equal(keys, keys.sort_values(["timestamp", "invoice_id"], kind="stable"))
    # every product belongs to one category; >= 20 categories with the default n_categories
    assert (tx.groupby("product_id")["category"].nunique() == 1).all()
    assert SMALL.n_categories >= 20
    assert tx["category"].nunique() >= 20
    assert tx["product_id"].str.fullmatch(r"P\d{4}").all()


def test_invoices_and_credit_notes(small: DemoTables) -> None:
    tx = small.transactions
    is_cn = tx["invoice_id"].str.startswith("CN")
    invoices, notes = tx[~is_cn], tx[is_cn]
    assert invoices["invoice_id"].str.fullmatch(r"INV\d{7}").all()
    assert notes["invoice_id"].str.fullmatch(r"CN\d{7}").all()
    assert (invoices["quantity"] > 0).all() and invoices["days_to_pay"].notna().all()
    assert (invoices["days_to_pay"] >= 0).all()
    assert (notes["quantity"] < 0).all() and notes["days_to_pay"].isna().all()
    lines = invoices.groupby("invoice_id").size()
    assert lines.min() >= 1 and lines.max() <= 15 and lines.max() >= 8
    per_invoice = invoices.groupby("invoice_id")
    assert (per_invoice["days_to_pay"].nunique() == 1).all()
    assert (per_invoice["timestamp"].nunique() == 1).all()
    assert (per_invoice["customer_id"].nunique() == 1).all()
    share = notes["invoice_id"].nunique() / lines.size
    assert 0.01 < share < 0.06, f"credit notes on {share:.1%} of invoices"
    # each returned product was bought earlier by the same customer
    bought = invoices.groupby(["customer_id", "product_id"])["timestamp"].min().rename("first_bought")
    returned = notes.join(bought, on=["customer_id", "product_id"])
    assert (returned["first_bought"] < returned["timestamp"]).all()


def test_name_hazards_present(small: DemoTables) -> None:
    names = small.customers["company_name"]
    assert names.str.match(r"[=+\-@]").sum() >= 5
    assert names.str.contains("<script>", regex=False).any()
    assert names.str.contains('"', regex=False).any()
    assert names.str.contains(",", regex=False).any()
    assert names.str.contains("'", regex=False).any()
    assert names.str.contains("[éüøñ]", regex=True).any()


def test_first_order_date_is_first_transaction_day(small: DemoTables) -> None:
    first = small.transactions.groupby("customer_id")["timestamp"].min().dt.normalize()
    expected = first.reindex(small.customers["customer_id"]).to_numpy()
    np.testing.assert_array_equal(small.customers["first_order_date"].to_numpy(), expected)
    never = small.customers["first_order_date"].isna().mean()
    assert 0 < never < 0.2, "a small share of customers never orders"


def test_firmographic_snapshots(small: DemoTables) -> None:
    firmo, cust = small.firmographics, small.customers
    assert (firmo["valid_from"].dt.month == 1).all() and (firmo["valid_from"].dt.day == 1).all()
    assert not firmo.duplicated(["customer_id", "valid_from"]).any()
    assert set(firmo["customer_id"]) == set(cust["customer_id"])
    assert firmo["valid_from"].min() == SMALL.start
    assert firmo["valid_from"].max().year == SMALL.end.year - 1
    founded = firmo["customer_id"].map(cust.set_index("customer_id")["founded_year"])
    assert (firmo["valid_from"].dt.year >= founded).all()
    last = firmo.sort_values("valid_from").groupby("customer_id").tail(1).set_index("customer_id")
    last = last.reindex(cust["customer_id"])
    np.testing.assert_array_equal(last["employees"].to_numpy(), cust["employees"].to_numpy())
    np.testing.assert_array_equal(last["annual_revenue"].to_numpy(), cust["annual_revenue"].to_numpy())
    assert firmo.groupby("customer_id")["employees"].nunique().max() > 1, "firmographics drift over years"


# --------------------------------------------------------------------------------------------- statistics
def test_pareto_concentration(medium: DemoTables) -> None:
    end = MEDIUM.end
    spend = realised_spend(medium.transactions, end - pd.DateOffset(months=12), end)
    spend = spend[spend > 0].sort_values(ascending=False)
    top = spend.iloc[: round(0.2 * len(spend))].sum() / spend.sum()
    assert 0.65 <= top <= 0.9, f"top 20% hold {top:.3f} of revenue"


def test_key_account_transitions_exist(medium: DemoTables) -> None:
    tx = medium.transactions
    cutoff = MEDIUM.start + pd.DateOffset(years=1)
    trailing = realised_spend(tx, cutoff - pd.DateOffset(months=12), cutoff)
    eligible = trailing.index.difference(_top_set(trailing).index)
    outcome = realised_spend(tx, cutoff, cutoff + pd.DateOffset(months=12))
    bar = _top_set(outcome).min()
    rate = (outcome.reindex(eligible, fill_value=0.0) >= bar).mean()
    assert 0.01 <= rate <= 0.15, f"{rate:.3f} of eligible customers become key accounts"


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


def test_better_credit_pays_faster(small: DemoTables) -> None:
    tx = small.transactions
    rating = tx["customer_id"].map(small.customers.set_index("customer_id")["credit_rating"])
    days = tx["days_to_pay"].groupby(rating).mean()
    assert days["AAA"] < days["BBB"] < days["CCC"]


def test_seasonality_year_end_peak(medium: DemoTables) -> None:
    tx = medium.transactions
    gross = tx[tx["amount"] > 0]
    by_month = gross.groupby(gross["timestamp"].dt.month)["amount"].sum()
    assert by_month[12] > by_month[8]
