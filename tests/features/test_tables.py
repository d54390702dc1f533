"""The table models: column lists and roles derived from them, and what their schemas accept."""

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from features.tables import (
    Customers,
    Firmographics,
    Spine,
    TransactionExport,
    Transactions,
    column_names,
    column_roles,
    required_columns,
)


def _lines(**columns) -> pd.DataFrame:
    frame = pd.DataFrame({
        "invoice_id": pd.array(["INV1", "INV2"], dtype="str"),
        "customer_id": pd.array(["C1", "C2"], dtype="str"),
        "timestamp": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 11:00"]).astype("datetime64[us]"),
        "product_id": pd.array(["P1", "P2"], dtype="str"),
        "category": pd.array(["Tools", "Paper"], dtype="str"),
        "amount": [10.0, -2.5],
        "days_to_pay": [14.0, np.nan],
    })
    return frame.assign(**columns)


def test_the_libraries_need_only_the_required_columns():
    assert required_columns(Transactions) == ["invoice_id", "customer_id", "timestamp", "product_id", "category",
                                              "amount", "days_to_pay"]
    assert required_columns(Customers) == ["customer_id", "industry", "country", "region", "employees",
                                           "annual_revenue", "founded_year", "credit_rating", "acquisition_channel"]
    assert required_columns(Firmographics) == column_names(Firmographics) == ["customer_id", "valid_from",
                                                                              "employees", "annual_revenue"]
    assert required_columns(Spine) == ["customer_id", "cutoff"]
    assert set(column_names(Customers)) - set(required_columns(Customers)) == {"company_name", "account_owner",
                                                                              "first_order_date"}


def test_roles_follow_the_types_and_flags_in_column_order():
    roles = column_roles(TransactionExport)
    assert roles.text == ("invoice_id", "customer_id", "product_id", "category", "country")
    assert roles.numbers == ("quantity", "unit_price", "amount", "days_to_pay")
    assert roles.dates == ("timestamp",)
    assert roles.ids == ("invoice_id", "customer_id", "product_id")
    assert roles.bands == ()
    assert roles.in_every_export == ("invoice_id", "customer_id", "timestamp")
    assert column_roles(Customers).bands == column_roles(Firmographics).bands == ("employees", "annual_revenue")
    assert "country" not in column_names(Transactions)  # an attribute of customers, not of the validated lines


def test_a_table_without_optional_columns_passes_and_a_bad_value_fails():
    Transactions.to_schema().validate(_lines())
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        Transactions.to_schema().validate(_lines(amount=[np.inf, 1.0], days_to_pay=[-1.0, 3.0]), lazy=True)
    assert set(caught.value.failure_cases["check"]) == {"finite", "greater_than_or_equal_to(0)"}
    with pytest.raises(pa.errors.SchemaErrors):
        Transactions.to_schema().validate(_lines().drop(columns="category"), lazy=True)


def test_snapshots_are_unique_per_customer_and_date():
    snapshots = pd.DataFrame({"customer_id": pd.array(["C1", "C1"], dtype="str"),
                              "valid_from": pd.to_datetime(["2024-01-01"] * 2).astype("datetime64[us]"),
                              "employees": [5.0, 6.0], "annual_revenue": [1e6, np.nan]})
    with pytest.raises(pa.errors.SchemaErrors):
        Firmographics.to_schema().validate(snapshots, lazy=True)
    Firmographics.to_schema().validate(snapshots.assign(valid_from=pd.to_datetime(
        ["2024-01-01", "2025-01-01"]).astype("datetime64[us]")))
