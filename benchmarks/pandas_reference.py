"""A straightforward pandas implementation of the core point-in-time features (benchmark reference only).

Kept in `benchmarks/` and never imported by the package: it is the yardstick `benchmarks/features.py` times
the DuckDB builder against and checks it for agreement. It follows the definitions of
`features/catalogue.py` (and the conventions of `features/builder.py`) literally:

* an invoice is the lines of one (customer_id, invoice_id, day); its value is the sum of its amounts (money
  has 4 decimal places, as the builder's DECIMAL(18, 4), so invoice totals are rounded to 4 decimals before
  their sign is tested); an order is an invoice with a positive value, a credit note one with a negative;
* cutoffs are midnight timestamps and only lines with `timestamp < cutoff` are used; the `w`-day window is
  `[cutoff - w days, cutoff)`;
* spend_sum_{w}d: net amount in the window; orders_count_{w}d: orders in the window;
  order_value_mean_{w}d: gross order value / orders in the window (NaN without orders);
* spend_sum_all, orders_count_all: the same over all history before the cutoff;
* recency_days_since_last_order / tenure_days_since_first_order: days from the last / first order day to the
  cutoff (NaN without orders);
* categories_distinct_365d: distinct categories of lines with amount > 0 in the last 365 days;
* returns_share_365d: credited value of credit notes / gross order value in the last 365 days (NaN when
  there is no gross value).

Missing history: sums and counts are 0, means, ratios and recency are NaN.

Style: what an analyst writes. For each cutoff, filter the (once pre-aggregated) invoices and the lines
before the cutoff, build the window masks, group by customer once, and merge onto that cutoff's spine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS_DAYS = (90, 180, 365)


def core_columns(windows_days: tuple[int, ...] = WINDOWS_DAYS) -> list[str]:
    """The feature columns `reference_features` computes, in output order (without customer_id, cutoff)."""
    columns = []
    for w in windows_days:
        columns += [f"spend_sum_{w}d", f"orders_count_{w}d", f"order_value_mean_{w}d"]
    return [
        *columns,
        "spend_sum_all",
        "orders_count_all",
        "recency_days_since_last_order",
        "tenure_days_since_first_order",
        "categories_distinct_365d",
        "returns_share_365d",
    ]


def _invoices(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer_id, invoice_id, day) with its value; independent of the cutoff because a cutoff
    is a midnight, so an invoice day is before the cutoff exactly when its lines are."""
    lines = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"].astype("str"),
            "invoice_id": transactions["invoice_id"].astype("str"),
            "day": transactions["timestamp"].dt.floor("D"),
            "amount": transactions["amount"].astype("float64"),
        }
    )
    invoices = lines.groupby(["customer_id", "invoice_id", "day"], sort=False, observed=True)["amount"].sum()
    invoices = invoices.round(4).reset_index()
    return invoices.drop(columns="invoice_id")


def _features_at(invoices: pd.DataFrame, lines: pd.DataFrame, cutoff: pd.Timestamp,
                 windows_days: tuple[int, ...]) -> pd.DataFrame:
    """Features of every customer with history before `cutoff`, indexed by customer_id."""
    inv = invoices[invoices["day"] < cutoff]
    amount = inv["amount"]
    is_order = amount > 0
    gross = amount.where(is_order, 0.0)
    columns: dict[str, pd.Series] = {"customer_id": inv["customer_id"]}
    for w in windows_days:
        in_window = inv["day"] >= cutoff - pd.Timedelta(days=w)
        columns[f"spend_{w}"] = amount.where(in_window, 0.0)
        columns[f"orders_{w}"] = (is_order & in_window).astype("int64")
        columns[f"gross_{w}"] = gross.where(in_window, 0.0)
    in_year = inv["day"] >= cutoff - pd.Timedelta(days=365)
    columns["gross_365_total"] = gross.where(in_year, 0.0)
    columns["returned_365"] = (-amount).where(in_year & (amount < 0), 0.0)
    columns["spend_all"] = amount
    columns["orders_all"] = is_order.astype("int64")
    columns["order_day"] = inv["day"].where(is_order)
    frame = pd.DataFrame(columns)
    grouped = frame.groupby("customer_id", sort=False, observed=True)
    sums = grouped[[c for c in frame.columns if c not in ("customer_id", "order_day")]].sum()
    last_order = grouped["order_day"].max()
    first_order = grouped["order_day"].min()

    out = pd.DataFrame(index=sums.index)
    for w in windows_days:
        orders = sums[f"orders_{w}"]
        out[f"spend_sum_{w}d"] = sums[f"spend_{w}"]
        out[f"orders_count_{w}d"] = orders
        out[f"order_value_mean_{w}d"] = sums[f"gross_{w}"] / orders.where(orders > 0)
    out["spend_sum_all"] = sums["spend_all"]
    out["orders_count_all"] = sums["orders_all"]
    out["recency_days_since_last_order"] = (cutoff - last_order).dt.days
    out["tenure_days_since_first_order"] = (cutoff - first_order).dt.days
    gross_year = sums["gross_365_total"]
    out["returns_share_365d"] = sums["returned_365"] / gross_year.where(gross_year != 0)

    recent = lines[
        (lines["timestamp"] < cutoff)
        & (lines["timestamp"] >= cutoff - pd.Timedelta(days=365))
        & (lines["amount"] > 0)
    ]
    out["categories_distinct_365d"] = recent.groupby("customer_id", observed=True)["category"].nunique()
    return out


def reference_features(transactions: pd.DataFrame, spine: pd.DataFrame,
                       windows_days: tuple[int, ...] = WINDOWS_DAYS) -> pd.DataFrame:
    """Core features per spine row: customer_id, cutoff, then `core_columns(windows_days)` (float64)."""
    cutoffs = pd.to_datetime(spine["cutoff"]).astype("datetime64[us]")
    spine = pd.DataFrame({"customer_id": spine["customer_id"].astype("str"), "cutoff": cutoffs})
    invoices = _invoices(transactions)
    lines = transactions[["customer_id", "timestamp", "category", "amount"]]
    columns = core_columns(windows_days)
    parts = []
    for cutoff, rows in spine.groupby("cutoff", sort=True):
        features = _features_at(invoices, lines, pd.Timestamp(cutoff), windows_days)
        parts.append(rows.merge(features.reset_index(), on="customer_id", how="left"))
    empty = spine.reindex(columns=["customer_id", "cutoff", *columns])
    out = pd.concat(parts, ignore_index=True) if parts else empty
    zero_filled = [c for c in columns if c.startswith(("spend_sum_", "orders_count_", "categories_distinct_"))]
    out[zero_filled] = out[zero_filled].fillna(0)
    out[columns] = out[columns].astype("float64")
    out["customer_id"] = out["customer_id"].astype("str")
    out["cutoff"] = out["cutoff"].astype("datetime64[us]")
    return out[["customer_id", "cutoff", *columns]].reset_index(drop=True)


if __name__ == "__main__":  # tiny self-check of the definitions on a hand-made example
    tx = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "B"],
            "invoice_id": ["I1", "I1", "C1", "I2", "I3"],
            "timestamp": pd.to_datetime(
                ["2023-01-10 09:00", "2023-01-10 09:00", "2023-02-01 10:00", "2023-05-31 23:59", "2023-06-01 00:00"]
            ).astype("datetime64[us]"),
            "category": ["x", "y", "x", "z", "x"],
            "amount": [100.0, 50.0, -30.0, 20.0, 10.0],
            "days_to_pay": [10.0, 10.0, np.nan, 5.0, 1.0],
        }
    )
    result = reference_features(tx, pd.DataFrame({"customer_id": ["A", "B"], "cutoff": pd.Timestamp("2023-06-01")}))
    row = result.set_index("customer_id").loc["A"]
    assert row["spend_sum_180d"] == 140.0 and row["orders_count_180d"] == 2, row
    assert row["order_value_mean_180d"] == 85.0 and row["recency_days_since_last_order"] == 1, row
    assert row["returns_share_365d"] == 30.0 / 170.0 and row["categories_distinct_365d"] == 3, row
    assert result.set_index("customer_id").loc["B", "spend_sum_all"] == 0.0
    print(result.T)
