"""Point-in-time feature snapshots, computed with DuckDB.

One builder for training and scoring: the caller passes a spine of (customer_id, cutoff) rows (many cutoffs
for training, one as-of date for scoring) and gets one feature row per spine row.

Money and days are summed as DECIMAL so that results do not depend on DuckDB's parallel summation order
(floating-point sums would differ in the last bits from run to run).

Point-in-time rule: a cutoff `t` is a midnight timestamp; only transaction lines with `timestamp < t` are
used, a payment counts only once its payment date is before `t`, and a firmographic snapshot only if its
`valid_from < t`. Missing history: sums and counts are 0, means, ratios and recency are NaN.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from features.catalogue import GROWTH_WINDOWS_DAYS, PERCENTILE_WINDOWS_DAYS, feature_catalogue

SPINE_COLUMNS = ["customer_id", "cutoff"]
TRANSACTION_COLUMNS = ["customer_id", "invoice_id", "timestamp", "category", "amount", "days_to_pay"]
CUSTOMER_COLUMNS = [
    "customer_id", "industry", "country", "region", "employees", "annual_revenue",
    "founded_year", "credit_rating", "acquisition_channel",
]
SNAPSHOT_COLUMNS = ["customer_id", "valid_from", "employees", "annual_revenue"]
CREDIT_SCORES = {"AAA": 7, "AA": 6, "A": 5, "BBB": 4, "BB": 3, "B": 2, "CCC": 1}


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")


def _check_spine(spine: pd.DataFrame) -> pd.DataFrame:
    _require(spine, SPINE_COLUMNS, "spine")
    cutoffs = pd.to_datetime(spine["cutoff"])
    if (cutoffs != cutoffs.dt.normalize()).any():
        raise ValueError("spine cutoffs must be dates (midnight timestamps)")
    if spine.duplicated(SPINE_COLUMNS).any():
        raise ValueError("spine has duplicated (customer_id, cutoff) rows")
    return pd.DataFrame({"customer_id": spine["customer_id"].astype("str"), "cutoff": cutoffs})


def _window_sql(windows_days: tuple[int, ...]) -> str:
    """Aggregates over the daily rollup `d` joined to spine row `s` (all with d.day < s.cutoff)."""

    def within(start: int, end: int = 0) -> str:
        lower = f"d.day >= s.cutoff - INTERVAL {start} DAY"
        return lower if end == 0 else f"{lower} AND d.day < s.cutoff - INTERVAL {end} DAY"

    parts = []
    for w in windows_days:
        parts += [
            f"coalesce(sum(d.spend) FILTER ({within(w)}), 0) AS spend_sum_{w}d",
            f"coalesce(sum(d.orders) FILTER ({within(w)}), 0) AS orders_count_{w}d",
            f"sum(d.gross) FILTER ({within(w)}) / nullif(sum(d.orders) FILTER ({within(w)}), 0)"
            f" AS order_value_mean_{w}d",
        ]
    for w in GROWTH_WINDOWS_DAYS:
        parts += [
            f"coalesce(sum(d.spend) FILTER ({within(w)}), 0) AS _spend_last_{w}d",
            f"coalesce(sum(d.orders) FILTER ({within(w)}), 0) AS _orders_last_{w}d",
            f"coalesce(sum(d.spend) FILTER ({within(2 * w, w)}), 0) AS spend_sum_prev_{w}d",
            f"coalesce(sum(d.orders) FILTER ({within(2 * w, w)}), 0) AS orders_count_prev_{w}d",
        ]
    parts += [
        "coalesce(sum(d.spend), 0) AS spend_sum_all",
        "coalesce(sum(d.orders), 0) AS orders_count_all",
        "date_diff('day', max(d.day) FILTER (d.orders > 0), s.cutoff) AS recency_days_since_last_order",
        "date_diff('day', min(d.day) FILTER (d.orders > 0), s.cutoff) AS tenure_days_since_first_order",
        f"sum(d.returned) FILTER ({within(365)}) / nullif(sum(d.gross) FILTER ({within(365)}), 0)"
        " AS returns_share_365d",
    ]
    return ",\n       ".join(parts)


def _growth(last: pd.Series, previous: pd.Series) -> pd.Series:
    total = last.abs() + previous.abs()
    return ((last - previous) / total.where(total > 0)).astype("float64")


def build_features(
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    spine: pd.DataFrame,
    windows_days: tuple[int, ...] = (90, 180, 365),
    snapshots: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Feature snapshot per spine row: columns `customer_id`, `cutoff`, then the catalogue in order.

    `snapshots` (customer_id, valid_from, employees, annual_revenue) make firm size point-in-time; without
    them the customers table's employees and revenue are taken as valid at every cutoff.
    """
    _require(transactions, TRANSACTION_COLUMNS, "transactions")
    _require(customers, CUSTOMER_COLUMNS, "customers")
    spine = _check_spine(spine)
    catalogue = feature_catalogue(windows_days)
    con = duckdb.connect()
    try:
        con.register("spine", spine)
        con.register("tx", transactions[TRANSACTION_COLUMNS])
        con.register("customers", customers[CUSTOMER_COLUMNS])
        con.execute(
            """
            CREATE TEMP TABLE spine_t AS
            SELECT customer_id, CAST(cutoff AS TIMESTAMP) AS cutoff FROM spine;
            CREATE TEMP TABLE invoices AS
            SELECT customer_id, invoice_id, CAST(timestamp AS DATE) AS day,
                   sum(CAST(amount AS DECIMAL(18, 4))) AS amount,
                   CAST(max(days_to_pay) AS DECIMAL(18, 4)) AS days_to_pay
            FROM tx GROUP BY ALL;
            CREATE TEMP TABLE daily AS
            SELECT customer_id, day, sum(amount) AS spend,
                   sum(greatest(amount, 0)) AS gross, -sum(least(amount, 0)) AS returned,
                   count(*) FILTER (amount > 0) AS orders
            FROM invoices GROUP BY ALL;
            """
        )
        windows = con.sql(
            f"""
            SELECT s.customer_id, s.cutoff, {_window_sql(windows_days)}
            FROM spine_t s LEFT JOIN daily d
              ON d.customer_id = s.customer_id AND d.day < s.cutoff
            GROUP BY s.customer_id, s.cutoff
            """
        ).df()
        categories = con.sql(
            """
            WITH first_last AS (
                SELECT s.customer_id, s.cutoff, c.category,
                       min(c.day) AS first_day, max(c.day) AS last_day
                FROM spine_t s JOIN (
                    SELECT DISTINCT customer_id, category, CAST(timestamp AS DATE) AS day
                    FROM tx WHERE amount > 0
                ) c ON c.customer_id = s.customer_id AND c.day < s.cutoff
                GROUP BY ALL
            )
            SELECT customer_id, cutoff,
                   count(*) FILTER (last_day >= cutoff - INTERVAL 365 DAY) AS categories_distinct_365d,
                   count(*) AS categories_distinct_all,
                   count(*) FILTER (first_day >= cutoff - INTERVAL 90 DAY) AS categories_new_90d
            FROM first_last GROUP BY ALL
            """
        ).df()
        payments = con.sql(
            """
            SELECT s.customer_id, s.cutoff, avg(i.days_to_pay) AS payment_days_mean_365d
            FROM spine_t s JOIN invoices i
              ON i.customer_id = s.customer_id
             AND i.amount > 0 AND i.days_to_pay IS NOT NULL
             AND i.day + CAST(ceil(i.days_to_pay) AS INTEGER) < s.cutoff
             AND i.day + CAST(ceil(i.days_to_pay) AS INTEGER) >= s.cutoff - INTERVAL 365 DAY
            GROUP BY ALL
            """
        ).df()
        percentiles = con.sql(_percentile_sql()).df()
        firm = _firmographics(con, snapshots)
    finally:
        con.close()

    out = spine.merge(windows, on=SPINE_COLUMNS, how="left")
    out = out.merge(categories, on=SPINE_COLUMNS, how="left").merge(payments, on=SPINE_COLUMNS, how="left")
    out = out.merge(percentiles, on=SPINE_COLUMNS, how="left").merge(firm, on=SPINE_COLUMNS, how="left")
    for w in PERCENTILE_WINDOWS_DAYS:
        out[f"spend_percentile_{w}d"] = out[f"spend_percentile_{w}d"].fillna(0.0)
    for w in GROWTH_WINDOWS_DAYS:
        out[f"spend_growth_{w}d"] = _growth(out[f"_spend_last_{w}d"], out[f"spend_sum_prev_{w}d"])
        out[f"orders_growth_{w}d"] = _growth(out[f"_orders_last_{w}d"], out[f"orders_count_prev_{w}d"])
    for column in ("categories_distinct_365d", "categories_distinct_all", "categories_new_90d"):
        out[column] = out[column].fillna(0)
    out["firm_credit_score"] = out["_credit_rating"].map(CREDIT_SCORES).astype("float64")
    return _finalise(out, catalogue)


def _percentile_sql() -> str:
    """Spend percentile at each spine cutoff among ALL customers that bought in the window, so a customer's
    value does not depend on which other customers the spine holds (training and scoring agree)."""
    widest = max(PERCENTILE_WINDOWS_DAYS)
    sums = ", ".join(
        f"sum(d.spend) FILTER (d.day >= c.cutoff - INTERVAL {w} DAY) AS spend_{w}d" for w in PERCENTILE_WINDOWS_DAYS
    )
    ranks = ", ".join(
        f"CASE WHEN spend_{w}d IS NOT NULL THEN cume_dist() OVER (PARTITION BY cutoff, spend_{w}d IS NULL "
        f"ORDER BY spend_{w}d) END AS spend_percentile_{w}d"
        for w in PERCENTILE_WINDOWS_DAYS
    )
    return f"""
        WITH cutoffs AS (SELECT DISTINCT cutoff FROM spine_t),
        window_spend AS (
            SELECT d.customer_id, c.cutoff, {sums}
            FROM cutoffs c JOIN daily d
              ON d.day < c.cutoff AND d.day >= c.cutoff - INTERVAL {widest} DAY
            GROUP BY ALL
        ),
        ranked AS (SELECT customer_id, cutoff, {ranks} FROM window_spend)
        SELECT r.* FROM ranked r SEMI JOIN spine_t s ON s.customer_id = r.customer_id AND s.cutoff = r.cutoff
    """


def _firmographics(con: duckdb.DuckDBPyConnection, snapshots: pd.DataFrame | None) -> pd.DataFrame:
    """Firm attributes valid at each cutoff: size from the latest snapshot strictly before it."""
    if snapshots is not None:
        _require(snapshots, SNAPSHOT_COLUMNS, "snapshots")
        con.register("snapshots", snapshots[SNAPSHOT_COLUMNS])
        size_source = """
            ASOF LEFT JOIN snapshots f
              ON f.customer_id = s.customer_id AND s.cutoff > CAST(f.valid_from AS TIMESTAMP)
        """
        size_columns = "f.employees AS firm_employees, f.annual_revenue AS firm_revenue"
    else:
        size_source = ""
        size_columns = "c.employees AS firm_employees, c.annual_revenue AS firm_revenue"
    return con.sql(
        f"""
        SELECT s.customer_id, s.cutoff, {size_columns},
               CASE WHEN c.founded_year <= year(s.cutoff) THEN year(s.cutoff) - c.founded_year END
                   AS firm_age_years,
               c.credit_rating AS _credit_rating,
               c.industry AS firm_industry, c.country AS firm_country, c.region AS firm_region,
               c.acquisition_channel AS firm_channel
        FROM spine_t s
        {size_source}
        LEFT JOIN customers c ON c.customer_id = s.customer_id
        """
    ).df()


def _finalise(frame: pd.DataFrame, catalogue: list) -> pd.DataFrame:
    """Fixed column order and dtypes: float64 for numbers, str for categories (missing as NaN)."""
    columns: dict[str, pd.Series] = {
        "customer_id": frame["customer_id"].astype("str"),
        "cutoff": frame["cutoff"].astype("datetime64[us]"),
    }
    for feature in catalogue:
        values = frame[feature.name]
        if feature.kind == "categorical":
            columns[feature.name] = values.astype("str").where(values.notna(), np.nan)
        else:
            columns[feature.name] = pd.to_numeric(values, errors="raise").astype("float64")
    return pd.DataFrame(columns).reset_index(drop=True)


def feature_columns(windows_days: tuple[int, ...]) -> list[str]:
    """Names of the feature columns, in the builder's output order."""
    return [f.name for f in feature_catalogue(windows_days)]
