"""Tests of both demo worlds' tables: determinism, schemas, hazards and revenue concentration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo.worlds import generate
from features.tables import Customers, Firmographics, Transactions, column_roles
from tests.demo.conftest import Simulated, realised_spend

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
def test_same_seed_gives_identical_tables(small_world: Simulated) -> None:
    again = generate(small_world.settings, seed=small_world.seed)
    for name in ("customers", "transactions", "firmographics", "ground_truth"):
        pd.testing.assert_frame_equal(getattr(small_world.tables, name), getattr(again, name))


def test_different_seed_gives_different_tables(small_world: Simulated) -> None:
    other = generate(small_world.settings, seed=small_world.seed + 1)
    assert not other.transactions.equals(small_world.tables.transactions)
    assert not other.customers.equals(small_world.tables.customers)


# --------------------------------------------------------------------------------------------- schemas
def test_exact_columns_and_dtypes(small_world: Simulated) -> None:
    tables = small_world.tables
    assert _dtypes(tables.customers) == list(CUSTOMER_DTYPES.items())
    assert _dtypes(tables.transactions) == list(TRANSACTION_DTYPES.items())
    assert _dtypes(tables.firmographics) == list(FIRMOGRAPHIC_DTYPES.items())
    # the adoption world has a row per customer, the project world one per tender: the customers in order
    assert tables.ground_truth["customer_id"].unique().tolist() == tables.customers["customer_id"].tolist()


def test_customers_table(small_world: Simulated) -> None:
    tables, settings = small_world.tables, small_world.settings
    cust = tables.customers
    assert len(cust) == settings.n_customers
    assert cust["customer_id"].is_unique
    assert cust["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert cust["industry"].nunique() >= 10
    assert cust["country"].nunique() >= 8
    assert (cust.groupby("country")["region"].nunique() == 1).all(), "region must follow from country"
    assert set(cust["credit_rating"]) <= {"AAA", "AA", "A", "BBB", "BB", "B", "CCC"}
    assert cust["account_owner"].nunique() == settings.n_account_owners
    assert cust["employees"].between(1, 50_000).all()
    assert (cust["annual_revenue"] > 0).all()
    assert (cust["founded_year"] < settings.end.year).all()
    assert cust.notna().drop(columns="first_order_date").all().all()
    # heavy-tailed size: the largest firm is far above the median one
    assert cust["employees"].max() > 30 * cust["employees"].median()


def test_transactions_table(small_world: Simulated) -> None:
    tables, settings = small_world.tables, small_world.settings
    tx = tables.transactions
    assert len(tx) > 10 * settings.n_customers
    assert tx["customer_id"].isin(tables.customers["customer_id"]).all()
    assert tx["timestamp"].min() >= settings.start
    assert tx["timestamp"].max() < settings.end
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
    assert settings.n_categories >= 20
    assert tx["category"].nunique() >= 20
    assert tx["product_id"].str.fullmatch(r"P\d{4}").all()


def test_invoices_and_credit_notes(small_world: Simulated) -> None:
    tables = small_world.tables
    tx = tables.transactions
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


def test_name_hazards_present(small_world: Simulated) -> None:
    tables = small_world.tables
    names = tables.customers["company_name"]
    assert names.str.match(r"[=+\-@]").sum() >= 5
    assert names.str.contains("<script>", regex=False).any()
    assert names.str.contains('"', regex=False).any()
    assert names.str.contains(",", regex=False).any()
    assert names.str.contains("'", regex=False).any()
    assert names.str.contains("[éüøñ]", regex=True).any()


def test_first_order_date_is_first_transaction_day(small_world: Simulated) -> None:
    tables = small_world.tables
    first = tables.transactions.groupby("customer_id")["timestamp"].min().dt.normalize()
    expected = first.reindex(tables.customers["customer_id"]).to_numpy()
    np.testing.assert_array_equal(tables.customers["first_order_date"].to_numpy(), expected)
    never = tables.customers["first_order_date"].isna().mean()
    assert 0 < never < 0.2, "a small share of customers never orders"


def test_firmographic_snapshots(small_world: Simulated) -> None:
    tables, settings = small_world.tables, small_world.settings
    firmo, cust = tables.firmographics, tables.customers
    assert (firmo["valid_from"].dt.month == 1).all() and (firmo["valid_from"].dt.day == 1).all()
    assert not firmo.duplicated(["customer_id", "valid_from"]).any()
    assert set(firmo["customer_id"]) == set(cust["customer_id"])
    assert firmo["valid_from"].min() == settings.start
    assert firmo["valid_from"].max().year == settings.end.year - 1
    founded = firmo["customer_id"].map(cust.set_index("customer_id")["founded_year"])
    assert (firmo["valid_from"].dt.year >= founded).all()
    last = firmo.sort_values("valid_from").groupby("customer_id").tail(1).set_index("customer_id")
    last = last.reindex(cust["customer_id"])
    np.testing.assert_array_equal(last["employees"].to_numpy(), cust["employees"].to_numpy())
    np.testing.assert_array_equal(last["annual_revenue"].to_numpy(), cust["annual_revenue"].to_numpy())
    assert firmo.groupby("customer_id")["employees"].nunique().max() > 1, "firmographics drift over years"


def test_tables_pass_the_table_models(small_world: Simulated) -> None:
    """With numbers read as floats (as the validate stage reads every number column), each table passes its
    model's checks."""
    tables = small_world.tables
    for model, frame in ((Customers, tables.customers), (Transactions, tables.transactions),
                         (Firmographics, tables.firmographics)):
        model.to_schema().validate(frame.astype(dict.fromkeys(column_roles(model).numbers, "float64")))


def test_better_credit_pays_faster(small_world: Simulated) -> None:
    tx = small_world.tables.transactions
    rating = tx["customer_id"].map(small_world.tables.customers.set_index("customer_id")["credit_rating"])
    days = tx["days_to_pay"].groupby(rating).mean()
    assert days["AAA"] < days["BBB"] < days["CCC"]


# --------------------------------------------------------------------------------------------- concentration
def test_pareto_concentration(medium_world: Simulated) -> None:
    end = medium_world.settings.end
    spend = realised_spend(medium_world.tables.transactions, end - pd.DateOffset(months=12), end)
    spend = spend[spend > 0].sort_values(ascending=False)
    top = spend.iloc[: round(0.2 * len(spend))].sum() / spend.sum()
    assert 0.65 <= top <= 0.9, f"top 20% hold {top:.3f} of revenue"


def test_key_account_transitions_exist(medium_world: Simulated) -> None:
    tx = medium_world.tables.transactions
    cutoff = medium_world.settings.start + pd.DateOffset(years=1)
    trailing = realised_spend(tx, cutoff - pd.DateOffset(months=12), cutoff)
    eligible = trailing.index.difference(_top_set(trailing).index)
    outcome = realised_spend(tx, cutoff, cutoff + pd.DateOffset(months=12))
    bar = _top_set(outcome).min()
    rate = (outcome.reindex(eligible, fill_value=0.0) >= bar).mean()
    assert 0.01 <= rate <= 0.15, f"{rate:.3f} of eligible customers become key accounts"
