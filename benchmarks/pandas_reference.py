"""A straightforward pandas implementation of the core point-in-time features (benchmark reference only).

Kept in `benchmarks/` and never imported by the package: it is the yardstick `benchmarks/features.py` times
the DuckDB builder against and checks it for agreement. It computes every feature of the core families
(spend, orders, order, recency, tenure, categories, returns) for windows of 90, 180 and 365 days, following
the definitions of `features/catalogue.py` (and the conventions of `features/builder.py`) literally:

* an invoice is the lines of one (customer_id, invoice_id, day); its value is the sum of its amounts (money
  has 4 decimal places, as the builder's DECIMAL(18, 4), so invoice totals are rounded to 4 decimals before
  their sign is tested); an order is an invoice with a positive value, a credit note one with a negative;
* cutoffs are midnight timestamps and only lines with `timestamp < cutoff` are used; the window "from `a` to
  `b` days before" is `[cutoff - a days, cutoff - b days)`, i.e. the invoices whose age (cutoff - day, in
  days, at least 1) is in `(b, a]`;
* spend / orders / order value per window, before it (growth windows), the same 90 days a year before,
  growth = (last - previous) / (|last| + |previous|), the least-squares slope of net spend over twelve
  30-day buckets, the largest order; spend percentile among every customer with an invoice in the window
  (the share of them whose spend is at most this customer's; 0 without an invoice there);
* recency / tenure: days from the last / first order day to the cutoff;
* categories of lines with amount > 0: distinct in the last 365 days and ever, first bought in the last 90
  days, first bought in the last 180 / 365 days but not on the customer's first purchase day (added), and the
  share of the last 365 days' purchase value in the top category;
* returns_share_365d: credited value of credit notes / gross order value in the last 365 days.

Missing history: sums, counts, percentiles and the slope are 0; means, maxima, growth, ratios, recency and
tenure are NaN.

Style: what an analyst writes. Invoices, and each (customer, category)'s first purchase day, are
aggregated once; then, for each cutoff, filter the rows before it, build the window masks, group by
customer, and merge onto that cutoff's spine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS_DAYS = (90, 180, 365)
GROWTH_WINDOWS_DAYS = (90, 180)
PERCENTILE_WINDOWS_DAYS = (90, 365)
SLOPE_BUCKETS, BUCKET_DAYS = 12, 30
ADDED_WINDOWS_DAYS = (180, 365)
HISTORY_DAYS = 365  # the longest window reaches this far back


def core_columns(windows_days: tuple[int, ...] = WINDOWS_DAYS) -> list[str]:
    """The feature columns `reference_features` computes, in output order (without customer_id, cutoff)."""
    columns = []
    for w in windows_days:
        columns += [f"spend_sum_{w}d", f"orders_count_{w}d", f"order_value_mean_{w}d", f"order_value_max_{w}d"]
    columns += [f"spend_percentile_{w}d" for w in PERCENTILE_WINDOWS_DAYS]
    for g in GROWTH_WINDOWS_DAYS:
        columns += [f"spend_sum_prev_{g}d", f"orders_count_prev_{g}d", f"spend_growth_{g}d", f"orders_growth_{g}d"]
    return [
        *columns,
        "spend_sum_prev_year_90d", "spend_growth_yoy_90d", "spend_slope_365d",
        "spend_sum_all", "order_value_max_all", "orders_count_all",
        "recency_days_since_last_order", "tenure_days_since_first_order",
        "categories_distinct_365d", "categories_distinct_all", "categories_top_share_365d", "categories_new_90d",
        *(f"categories_added_{w}d" for w in ADDED_WINDOWS_DAYS), "returns_share_365d",
    ]


def _zero_when_missing(column: str) -> bool:
    return column.startswith(("spend_sum_", "orders_count_", "spend_percentile_", "spend_slope_", "categories_"))\
        and column != "categories_top_share_365d"


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


def _growth(last: pd.Series, previous: pd.Series) -> pd.Series:
    total = last.abs() + previous.abs()
    return (last - previous) / total.where(total > 0)


def _invoice_features(invoices: pd.DataFrame, cutoff: pd.Timestamp, windows_days: tuple[int, ...]) -> pd.DataFrame:
    """Features from the invoices before `cutoff`, indexed by customer_id (customers with an invoice)."""
    before = invoices[invoices["day"] < cutoff]
    by_customer = before.groupby("customer_id", sort=False, observed=True)
    order_day = before["day"].where(before["amount"] > 0)
    out = pd.DataFrame({
        "spend_sum_all": by_customer["amount"].sum(),
        "orders_count_all": (before["amount"] > 0).groupby(before["customer_id"], observed=True).sum(),
        "order_value_max_all": before["amount"].where(before["amount"] > 0).groupby(before["customer_id"],
                                                                                     observed=True).max(),
        "recency_days_since_last_order": (cutoff - order_day.groupby(before["customer_id"], observed=True).max()
                                          ).dt.days,
        "tenure_days_since_first_order": (cutoff - order_day.groupby(before["customer_id"], observed=True).min()
                                          ).dt.days,
    })

    recent = before[before["day"] >= cutoff - pd.Timedelta(days=HISTORY_DAYS)]
    amount = recent["amount"]
    age = (cutoff - recent["day"]).dt.days
    is_order = amount > 0
    gross = amount.where(is_order, 0.0)

    def within(start: int, end: int = 0) -> pd.Series:
        return (age > end) & (age <= start)

    spans = {f"{w}": (w, 0) for w in {*windows_days, *PERCENTILE_WINDOWS_DAYS, 365}}
    spans |= {f"prev_{g}": (2 * g, g) for g in GROWTH_WINDOWS_DAYS}
    spans["prev_year_90"] = (365, 275)
    columns: dict[str, pd.Series] = {"customer_id": recent["customer_id"]}
    for name, (start, end) in spans.items():
        mask = within(start, end)
        columns[f"spend_{name}"] = amount.where(mask, 0.0)
        columns[f"orders_{name}"] = (is_order & mask).astype("int64")
        columns[f"gross_{name}"] = gross.where(mask, 0.0)
        columns[f"invoices_{name}"] = mask.astype("int64")
        columns[f"max_{name}"] = amount.where(is_order & mask)
    columns["returned_365"] = (-amount).where(within(365) & (amount < 0), 0.0)
    # slope over buckets k = 1..12 (k = 1 the latest): x_k = (12 - k) - 5.5, slope = sum(x_k * spend_k) / sum(x^2)
    bucket = (age - 1) // BUCKET_DAYS + 1
    x = (SLOPE_BUCKETS - bucket) - (SLOPE_BUCKETS - 1) / 2
    columns["slope_term"] = (x * amount).where(bucket <= SLOPE_BUCKETS, 0.0)
    frame = pd.DataFrame(columns)
    grouped = frame.groupby("customer_id", sort=False, observed=True)
    maxima = grouped[[c for c in frame.columns if c.startswith("max_")]].max()
    sums = grouped[[c for c in frame.columns if c != "customer_id" and not c.startswith("max_")]].sum()

    windowed = pd.DataFrame(index=sums.index)
    for w in windows_days:
        orders = sums[f"orders_{w}"]
        windowed[f"spend_sum_{w}d"] = sums[f"spend_{w}"]
        windowed[f"orders_count_{w}d"] = orders
        windowed[f"order_value_mean_{w}d"] = sums[f"gross_{w}"] / orders.where(orders > 0)
        windowed[f"order_value_max_{w}d"] = maxima[f"max_{w}"]
    for w in PERCENTILE_WINDOWS_DAYS:
        bought = sums[f"invoices_{w}"] > 0
        peers_spend = sums.loc[bought, f"spend_{w}"].round(4)  # float sums of equal spends can differ in the last bit
        windowed[f"spend_percentile_{w}d"] = peers_spend.rank(method="max") / len(peers_spend)
    for g in GROWTH_WINDOWS_DAYS:
        windowed[f"spend_sum_prev_{g}d"] = sums[f"spend_prev_{g}"]
        windowed[f"orders_count_prev_{g}d"] = sums[f"orders_prev_{g}"]
        windowed[f"spend_growth_{g}d"] = _growth(sums[f"spend_{g}"], sums[f"spend_prev_{g}"])
        windowed[f"orders_growth_{g}d"] = _growth(sums[f"orders_{g}"], sums[f"orders_prev_{g}"])
    windowed["spend_sum_prev_year_90d"] = sums["spend_prev_year_90"]
    windowed["spend_growth_yoy_90d"] = _growth(sums["spend_90"], sums["spend_prev_year_90"])
    windowed["spend_slope_365d"] = sums["slope_term"] / sum(
        ((SLOPE_BUCKETS - 1) / 2 - t) ** 2 for t in range(SLOPE_BUCKETS))
    gross_year = sums["gross_365"]
    windowed["returns_share_365d"] = sums["returned_365"] / gross_year.where(gross_year != 0)
    return out.join(windowed, how="left")


def _category_features(purchases: pd.DataFrame, first_bought: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Category features from the lines with amount > 0, indexed by customer_id."""
    year = purchases[(purchases["timestamp"] < cutoff) & (purchases["timestamp"] >= cutoff - pd.Timedelta(days=365))]
    per_category = year.groupby(["customer_id", "category"], observed=True)["amount"].sum()
    by_customer = per_category.groupby(level="customer_id", observed=True)
    known = first_bought[first_bought["first_day"] < cutoff]
    new = known["first_day"] >= cutoff - pd.Timedelta(days=90)
    added = {f"categories_added_{w}d": (known["first_day"] >= cutoff - pd.Timedelta(days=w)) & ~known["opening"]
             for w in ADDED_WINDOWS_DAYS}
    return pd.DataFrame({
        "categories_distinct_365d": by_customer.size(),
        "categories_top_share_365d": by_customer.max() / by_customer.sum(),
    }).join(pd.DataFrame({
        "categories_distinct_all": known.groupby("customer_id", observed=True).size(),
        "categories_new_90d": new.groupby(known["customer_id"], observed=True).sum(),
        **{name: flags.groupby(known["customer_id"], observed=True).sum() for name, flags in added.items()},
    }), how="outer")


def reference_features(transactions: pd.DataFrame, spine: pd.DataFrame,
                       windows_days: tuple[int, ...] = WINDOWS_DAYS) -> pd.DataFrame:
    """Core features per spine row: customer_id, cutoff, then `core_columns(windows_days)` (float64)."""
    cutoffs = pd.to_datetime(spine["cutoff"]).astype("datetime64[us]")
    spine = pd.DataFrame({"customer_id": spine["customer_id"].astype("str"), "cutoff": cutoffs})
    invoices = _invoices(transactions)
    positive = transactions["amount"] > 0
    purchases = pd.DataFrame({"customer_id": transactions.loc[positive, "customer_id"].astype("str"),
                              "timestamp": transactions.loc[positive, "timestamp"],
                              "category": transactions.loc[positive, "category"],
                              "amount": transactions.loc[positive, "amount"]})
    first_bought = (purchases.assign(first_day=purchases["timestamp"].dt.floor("D"))
                    .groupby(["customer_id", "category"], observed=True)["first_day"].min().reset_index())
    first_bought["opening"] = first_bought["first_day"].eq(  # bought on the customer's first purchase day
        first_bought.groupby("customer_id", observed=True)["first_day"].transform("min"))
    columns = core_columns(windows_days)
    parts = []
    for cutoff, rows in spine.groupby("cutoff", sort=True):
        cutoff = pd.Timestamp(cutoff)
        features = _invoice_features(invoices, cutoff, windows_days).join(
            _category_features(purchases, first_bought, cutoff), how="outer")
        parts.append(rows.merge(features.rename_axis("customer_id").reset_index(), on="customer_id", how="left"))
    empty = spine.reindex(columns=["customer_id", "cutoff", *columns])
    out = pd.concat(parts, ignore_index=True) if parts else empty
    zero_filled = [c for c in columns if _zero_when_missing(c)]
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
    assert row["order_value_max_180d"] == 150.0 and row["order_value_max_all"] == 150.0, row
    assert row["returns_share_365d"] == 30.0 / 170.0 and row["categories_distinct_365d"] == 3, row
    assert row["categories_top_share_365d"] == 100.0 / 170.0 and row["categories_new_90d"] == 1, row
    assert row["spend_percentile_90d"] == 1.0 and row["spend_growth_90d"] == (20 - 120) / 140, row
    # 30-day buckets: 1 day old -> k = 1 (x = 5.5): 20; 120 days -> k = 4 (x = 2.5): -30; 142 days -> k = 5
    # (x = 1.5): 150
    assert np.isclose(row["spend_slope_365d"], (5.5 * 20 + 2.5 * -30 + 1.5 * 150) / 143.0), row
    assert result.set_index("customer_id").loc["B", "spend_sum_all"] == 0.0
    print(result.T)
