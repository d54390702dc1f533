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

from features.catalogue import (
    GROWTH_WINDOWS_DAYS,
    LATE_PAYMENT_DAYS,
    PERCENTILE_WINDOWS_DAYS,
    SLOPE_MONTHS,
    feature_catalogue,
)

SPINE_COLUMNS = ["customer_id", "cutoff"]
TRANSACTION_COLUMNS = ["customer_id", "invoice_id", "timestamp", "product_id", "category", "amount", "days_to_pay"]
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


def _growth(last: pd.Series, previous: pd.Series) -> pd.Series:
    total = last.abs() + previous.abs()
    return ((last - previous) / total.where(total > 0)).astype("float64")


def build_features(
    transactions: pd.DataFrame,
    customers: pd.DataFrame,
    spine: pd.DataFrame,
    windows_days: tuple[int, ...] = (90, 180, 365),
    snapshots: pd.DataFrame | None = None,
    families: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Feature snapshot per spine row: columns `customer_id`, `cutoff`, then the catalogue in order.

    `snapshots` (customer_id, valid_from, employees, annual_revenue) make firm size point-in-time; without
    them the customers table's employees and revenue are taken as valid at every cutoff. `families` limits
    the output to those feature families (default: all).
    """
    if "product_id" not in transactions.columns and "category" in transactions.columns:
        transactions = transactions.assign(product_id=transactions["category"])  # categories stand in
    _require(transactions, TRANSACTION_COLUMNS, "transactions")
    _require(customers, CUSTOMER_COLUMNS, "customers")
    spine = _check_spine(spine)
    catalogue = feature_catalogue(windows_days, families)
    if "account_owner" not in customers.columns:
        customers = customers.assign(account_owner=None)
    con = duckdb.connect()
    try:
        con.register("spine", spine)
        con.register("tx", transactions[TRANSACTION_COLUMNS])
        con.register("customers", customers[[*CUSTOMER_COLUMNS, "account_owner"]])
        boundaries = _boundaries(windows_days)
        _rollups(con, boundaries)
        values = con.sql(_spine_values_sql(windows_days, boundaries)).df()
        for b in boundaries:
            con.execute(f"DROP TABLE at_b{b}")
        categories = _distinct_counts(con, "category", "categories")
        products = _distinct_counts(con, "product_id", "products")
        months = _distinct_counts(con, "strftime(timestamp, '%Y-%m')", "months")[
            [*SPINE_COLUMNS, "months_distinct_365d"]].rename(
            columns={"months_distinct_365d": "cadence_active_months_365d"})
        population = con.sql(_population_sql()).df()
        firm = _firmographics(con, snapshots)
    finally:
        con.close()

    out = spine.merge(values, on=SPINE_COLUMNS, how="left")
    for counts in (categories, products, months):
        out = out.merge(counts, on=SPINE_COLUMNS, how="left")
    out = out.merge(population, on=SPINE_COLUMNS, how="left").merge(firm, on=SPINE_COLUMNS, how="left")
    for w in PERCENTILE_WINDOWS_DAYS:
        out[f"spend_percentile_{w}d"] = out[f"spend_percentile_{w}d"].fillna(0.0)
    for w in GROWTH_WINDOWS_DAYS:
        out[f"spend_growth_{w}d"] = _growth(out[f"_spend_last_{w}d"], out[f"spend_sum_prev_{w}d"])
        out[f"orders_growth_{w}d"] = _growth(out[f"_orders_last_{w}d"], out[f"orders_count_prev_{w}d"])
    out["spend_growth_yoy_90d"] = _growth(out["_spend_last_90d"], out["spend_sum_prev_year_90d"])
    days_per_order = 180 / out["_orders_last_180d"].where(out["_orders_last_180d"] > 0)
    days_per_order_before = 180 / out["orders_count_prev_180d"].where(out["orders_count_prev_180d"] > 0)
    out["cadence_days_per_order_trend_180d"] = days_per_order - days_per_order_before
    out["wallet_spend_to_revenue_365d"] = out["_spend_365d"] / out["firm_revenue"].where(out["firm_revenue"] > 0)
    out["wallet_spend_vs_industry_365d"] = out["_spend_365d"] / out["_industry_median_365d"].where(
        out["_industry_median_365d"] > 0)
    out["firm_credit_score"] = out["_credit_rating"].map(CREDIT_SCORES).astype("float64")
    return _finalise(out, catalogue)


PAYMENT_BOUNDARIES = {0, 180, 360, 365}


def _boundaries(windows_days: tuple[int, ...]) -> dict[int, bool]:
    """Days before the cutoff at which running totals are read (a window sum is a difference of two), each
    with whether all totals are needed there or only spend (the monthly slope's buckets)."""
    full = {0, 275, 365, *windows_days, *PERCENTILE_WINDOWS_DAYS, *GROWTH_WINDOWS_DAYS,
            *(2 * g for g in GROWTH_WINDOWS_DAYS)}
    slope = {30 * k for k in range(SLOPE_MONTHS + 1)}
    return {b: b in full for b in sorted(full | slope)}


def _rollups(con: duckdb.DuckDBPyConnection, boundaries: dict[int, bool]) -> None:
    """Roll lines up once into running totals per customer, so every cutoff and window is read off them
    with as-of joins: extra cutoffs and windows cost one lookup per spine row, not another pass over lines."""
    bounds = ", ".join(f"CAST(cutoff AS DATE) - {b} AS b{b}" for b in boundaries)
    con.execute(
        f"""
        CREATE TEMP TABLE spine_t AS
        SELECT customer_id, CAST(cutoff AS TIMESTAMP) AS cutoff, {bounds} FROM spine;
        CREATE TEMP TABLE invoices AS
        SELECT customer_id, invoice_id, CAST(timestamp AS DATE) AS day,
               sum(CAST(amount AS DECIMAL(18, 4))) AS amount,
               CAST(max(days_to_pay) AS DECIMAL(18, 4)) AS days_to_pay
        FROM tx GROUP BY ALL;
        CREATE TEMP TABLE running AS
        WITH daily AS (
            SELECT customer_id, day, sum(amount) AS spend, sum(greatest(amount, 0)) AS gross,
                   -sum(least(amount, 0)) AS returned, count(*) FILTER (amount > 0) AS orders,
                   max(amount) FILTER (amount > 0) AS max_order
            FROM invoices GROUP BY ALL
        )
        SELECT customer_id, day,
               sum(spend) OVER w AS spend, sum(gross) OVER w AS gross, sum(returned) OVER w AS returned,
               sum(orders) OVER w AS orders, count(*) OVER w AS active_days, max(max_order) OVER w AS max_order,
               max(CASE WHEN orders > 0 THEN day END) OVER w AS last_order_day,
               min(CASE WHEN orders > 0 THEN day END) OVER w AS first_order_day
        FROM daily
        WINDOW w AS (PARTITION BY customer_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
        CREATE TEMP TABLE paid AS
        WITH paid_invoices AS (
            SELECT customer_id, day + CAST(ceil(days_to_pay) AS INTEGER) AS day, days_to_pay
            FROM invoices WHERE amount > 0 AND days_to_pay IS NOT NULL
        ), paid_daily AS (
            SELECT customer_id, day, sum(days_to_pay) AS pay_days, count(*) AS paid,
                   count(*) FILTER (days_to_pay > {LATE_PAYMENT_DAYS}) AS late
            FROM paid_invoices GROUP BY ALL
        )
        SELECT customer_id, day,
               sum(pay_days) OVER w AS pay_days, sum(paid) OVER w AS paid, sum(late) OVER w AS late
        FROM paid_daily
        WINDOW w AS (PARTITION BY customer_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
        DROP TABLE invoices;  -- rolled up: free its memory for the joins that follow
        """
    )
    for b, all_totals in boundaries.items():
        # Read only what some feature needs at this boundary: each as-of join is a pass over the spine.
        columns = ["coalesce(r.spend, 0) AS spend"]
        joins = f"ASOF LEFT JOIN running r ON r.customer_id = s.customer_id AND s.b{b} > r.day"
        if all_totals:
            columns += [f"coalesce(r.{m}, 0) AS {m}" for m in ("gross", "returned", "orders", "active_days")]
            columns += ["r.last_order_day", "r.first_order_day", "r.max_order"]
        if b in PAYMENT_BOUNDARIES:
            columns += [f"coalesce(p.{m}, 0) AS {m}" for m in ("pay_days", "paid", "late")]
            joins += f" ASOF LEFT JOIN paid p ON p.customer_id = s.customer_id AND s.b{b} > p.day"
        con.execute(f"CREATE TEMP TABLE at_b{b} AS SELECT s.customer_id, s.cutoff, {', '.join(columns)} "
                    f"FROM spine_t s {joins}")


def _spine_values_sql(windows_days: tuple[int, ...], boundaries: dict[int, bool]) -> str:
    """Window features as differences of running totals read at the window's two ends."""

    def window(measure: str, start: int, end: int = 0) -> str:
        return f"(b{end}.{measure} - b{start}.{measure})"

    parts = []
    for w in windows_days:
        parts += [
            f"{window('spend', w)} AS spend_sum_{w}d",
            f"{window('orders', w)} AS orders_count_{w}d",
            f"{window('gross', w)} / nullif({window('orders', w)}, 0) AS order_value_mean_{w}d",
        ]
    for g in GROWTH_WINDOWS_DAYS:
        parts += [
            f"{window('spend', g)} AS _spend_last_{g}d",
            f"{window('orders', g)} AS _orders_last_{g}d",
            f"{window('spend', 2 * g, g)} AS spend_sum_prev_{g}d",
            f"{window('orders', 2 * g, g)} AS orders_count_prev_{g}d",
        ]
    centre = (SLOPE_MONTHS - 1) / 2
    slope_terms = " + ".join(
        f"{(SLOPE_MONTHS - k) - centre} * {window('spend', 30 * k, 30 * (k - 1))}" for k in range(1, SLOPE_MONTHS + 1)
    )
    squares = sum((t - centre) ** 2 for t in range(SLOPE_MONTHS))

    def mean(measure: str, count: str, start: int, end: int = 0) -> str:
        return f"{window(measure, start, end)} / nullif({window(count, start, end)}, 0)"

    parts += [
        f"{window('spend', 365)} AS _spend_365d",
        f"{window('spend', 365, 275)} AS spend_sum_prev_year_90d",
        f"({slope_terms}) / {squares} AS spend_slope_365d",
        "b0.spend AS spend_sum_all",
        "b0.max_order AS order_value_max_all",
        "date_diff('day', b0.first_order_day, b0.last_order_day) / nullif(b0.orders - 1, 0)"
        " AS cadence_days_between_orders_all",
        "b0.orders AS orders_count_all",
        "date_diff('day', b0.last_order_day, b0.cutoff) AS recency_days_since_last_order",
        "date_diff('day', b0.first_order_day, b0.cutoff) AS tenure_days_since_first_order",
        f"{window('returned', 365)} / nullif({window('gross', 365)}, 0) AS returns_share_365d",
        f"{mean('pay_days', 'paid', 365)} AS payment_days_mean_365d",
        f"{mean('pay_days', 'paid', 180)} - {mean('pay_days', 'paid', 360, 180)} AS payment_days_trend_180d",
        f"{mean('late', 'paid', 365)} AS payment_late_share_365d",
    ]
    joins = " ".join(f"JOIN at_b{b} b{b} USING (customer_id, cutoff)" for b in boundaries if b != 0)
    return f"SELECT b0.customer_id, b0.cutoff, {', '.join(parts)} FROM at_b0 b0 {joins}"


def _distinct_counts(con: duckdb.DuckDBPyConnection, key: str, prefix: str) -> pd.DataFrame:
    """`{prefix}_distinct_365d`, `{prefix}_distinct_all` and `{prefix}_new_90d` per spine row."""
    return con.sql(_distinct_counts_sql(key)).df().rename(columns={
        "d365": f"{prefix}_distinct_365d", "d_all": f"{prefix}_distinct_all", "d_new": f"{prefix}_new_90d"})


def _distinct_counts_sql(key: str) -> str:
    """Distinct values of `key` (an expression over purchase lines: category, product, month) bought in the
    last 365 days, ever, and for the first time in the last 90 days, per spine row (columns d365, d_all, d_new).

    Each (customer, value) is active for cutoffs in (first purchase day, last purchase day + window] of each
    run of purchases no more than a window apart; +1/-1 events at those dates, summed up to the cutoff, count
    the active values without joining every cutoff to every value."""
    return f"""
        WITH days AS (
            SELECT DISTINCT customer_id, {key} AS category, CAST(timestamp AS DATE) AS day FROM tx WHERE amount > 0
        ), gaps AS (
            SELECT *, CASE WHEN lag(day) OVER (PARTITION BY customer_id, category ORDER BY day) >= day - 365
                           THEN 0 ELSE 1 END AS new_run
            FROM days
        ), runs AS (
            SELECT *, sum(new_run) OVER (PARTITION BY customer_id, category ORDER BY day) AS run FROM gaps
        ), spans AS (
            SELECT customer_id, category, min(day) AS first_day, max(day) AS last_day
            FROM runs GROUP BY customer_id, category, run
        ), firsts AS (
            SELECT customer_id, min(first_day) AS first_day FROM spans GROUP BY customer_id, category
        ), events AS (
            SELECT customer_id, first_day + 1 AS day, 1 AS d365, 0 AS d_all, 0 AS d_new FROM spans
            UNION ALL SELECT customer_id, last_day + 366, -1, 0, 0 FROM spans
            UNION ALL SELECT customer_id, first_day + 1, 0, 1, 1 FROM firsts
            UNION ALL SELECT customer_id, first_day + 91, 0, 0, -1 FROM firsts
        ), counts AS (
            SELECT customer_id, day,
                   sum(sum(d365)) OVER w AS d365, sum(sum(d_all)) OVER w AS d_all, sum(sum(d_new)) OVER w AS d_new
            FROM events GROUP BY customer_id, day
            WINDOW w AS (PARTITION BY customer_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )
        SELECT s.customer_id, s.cutoff, coalesce(c.d365, 0) AS d365, coalesce(c.d_all, 0) AS d_all,
               coalesce(c.d_new, 0) AS d_new
        FROM spine_t s ASOF LEFT JOIN counts c ON c.customer_id = s.customer_id AND s.b0 >= c.day
    """


def _population_sql() -> str:
    """Measures relative to ALL customers that bought in the window before each spine cutoff (spend
    percentile, industry median spend, owner portfolio), so a customer's value does not depend on which other
    customers the spine holds: training and scoring agree."""
    bounds = sorted({0, 365, *PERCENTILE_WINDOWS_DAYS})
    reads = ", ".join(f"coalesce(r{b}.spend, 0) AS spend_{b}, coalesce(r{b}.active_days, 0) AS active_{b}"
                      for b in bounds)
    joins = " ".join(
        f"ASOF LEFT JOIN running r{b} ON r{b}.customer_id = p.customer_id AND p.cutoff_day - {b} > r{b}.day"
        for b in bounds
    )
    ranks = ", ".join(
        f"CASE WHEN active_0 > active_{w} THEN cume_dist() OVER (PARTITION BY cutoff, active_0 > active_{w} "
        f"ORDER BY spend_0 - spend_{w}) END AS spend_percentile_{w}d"
        for w in PERCENTILE_WINDOWS_DAYS
    )
    return f"""
        WITH cutoffs AS (SELECT DISTINCT cutoff FROM spine_t),
        population AS (
            SELECT k.customer_id, c.cutoff, CAST(c.cutoff AS DATE) AS cutoff_day
            FROM cutoffs c CROSS JOIN (SELECT DISTINCT customer_id FROM running) k
        ),
        reads AS (
            SELECT p.customer_id, p.cutoff, {reads}, c.industry, c.account_owner
            FROM population p {joins} LEFT JOIN customers c ON c.customer_id = p.customer_id
        ),
        active AS (SELECT * FROM reads WHERE active_0 > active_365),
        peers AS (
            SELECT cutoff, industry, median(spend_0 - spend_365) AS _industry_median_365d
            FROM active WHERE industry IS NOT NULL GROUP BY ALL
        ),
        portfolios AS (
            SELECT cutoff, account_owner, count(*) AS relationship_owner_portfolio_365d
            FROM active WHERE account_owner IS NOT NULL GROUP BY ALL
        ),
        ranked AS (SELECT customer_id, cutoff, {ranks} FROM reads)
        SELECT s.customer_id, s.cutoff, {", ".join(f"r.spend_percentile_{w}d" for w in PERCENTILE_WINDOWS_DAYS)},
               p._industry_median_365d, o.relationship_owner_portfolio_365d
        FROM spine_t s
        LEFT JOIN ranked r ON r.customer_id = s.customer_id AND r.cutoff = s.cutoff
        LEFT JOIN customers c ON c.customer_id = s.customer_id
        LEFT JOIN peers p ON p.cutoff = s.cutoff AND p.industry = c.industry
        LEFT JOIN portfolios o ON o.cutoff = s.cutoff AND o.account_owner = c.account_owner
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
