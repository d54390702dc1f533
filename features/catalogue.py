"""The feature catalogue: name, family, window, definition and the plain words sales reads.

Names follow `<family>_<measure>_<window>`. The catalogue is generated from the configured windows so
the builder, the reason codes and the documentation can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GROWTH_WINDOWS_DAYS = (90, 180)
PERCENTILE_WINDOWS_DAYS = (90, 365)


@dataclass(frozen=True)
class FeatureDef:
    name: str
    family: str
    window: str
    definition: str
    label: str  # plain words for reason codes, e.g. "orders in last 90 days"
    kind: Literal["numeric", "categorical"] = "numeric"
    unit: Literal["count", "money", "days", "years", "share", "ratio", "text", "score"] = "count"
    compare_to: str | None = None  # feature holding the earlier value, shown as "up from ..."


def feature_catalogue(windows_days: tuple[int, ...]) -> list[FeatureDef]:
    """All features the builder produces for these windows, in output column order."""
    defs: list[FeatureDef] = []
    for w in windows_days:
        defs += [
            FeatureDef(f"spend_sum_{w}d", "spend", f"{w}d",
                       f"Net spend (invoices minus credit notes) in the {w} days before the cutoff.",
                       f"spend in last {w} days", unit="money"),
            FeatureDef(f"orders_count_{w}d", "orders", f"{w}d",
                       f"Number of invoices with positive value in the {w} days before the cutoff.",
                       f"orders in last {w} days"),
            FeatureDef(f"order_value_mean_{w}d", "order", f"{w}d",
                       f"Mean gross value per order in the {w} days before the cutoff (NaN without orders).",
                       f"average order value over last {w} days", unit="money"),
        ]
    for w in PERCENTILE_WINDOWS_DAYS:
        defs.append(FeatureDef(
            f"spend_percentile_{w}d", "spend", f"{w}d",
            f"Share of the customers that bought in the {w} days before the cutoff whose net spend there is at "
            "most this customer's (0 without purchases); relative, so it survives seasonality and short history.",
            f"spend rank among all customers (last {w} days)", unit="share"))
    for w in GROWTH_WINDOWS_DAYS:
        defs += [
            FeatureDef(f"spend_sum_prev_{w}d", "spend", f"prev_{w}d",
                       f"Net spend in the {w} days before the last {w} days.",
                       f"spend in the {w} days before that", unit="money"),
            FeatureDef(f"orders_count_prev_{w}d", "orders", f"prev_{w}d",
                       f"Orders in the {w} days before the last {w} days.",
                       f"orders in the {w} days before that"),
            FeatureDef(f"spend_growth_{w}d", "spend", f"{w}d",
                       f"(last {w}d - previous {w}d) / (last + previous) net spend, in [-1, 1]; "
                       "NaN when both are zero.",
                       f"spend trend over last {w} days", unit="ratio"),
            FeatureDef(f"orders_growth_{w}d", "orders", f"{w}d",
                       f"(last {w}d - previous {w}d) / (last + previous) orders, in [-1, 1]; "
                       "NaN when both are zero.",
                       f"order trend over last {w} days", unit="ratio"),
        ]
    defs += [
        FeatureDef("spend_sum_all", "spend", "all", "Net spend over all history before the cutoff.",
                   "spend to date", unit="money"),
        FeatureDef("orders_count_all", "orders", "all", "Orders over all history before the cutoff.",
                   "orders to date"),
        FeatureDef("recency_days_since_last_order", "recency", "all",
                   "Days from the last order to the cutoff (NaN without orders).",
                   "days since last order", unit="days"),
        FeatureDef("tenure_days_since_first_order", "tenure", "all",
                   "Days from the first order to the cutoff (NaN without orders).",
                   "days since first order", unit="days"),
        FeatureDef("categories_distinct_365d", "categories", "365d",
                   "Distinct product categories bought in the 365 days before the cutoff.",
                   "product categories bought in last 365 days"),
        FeatureDef("categories_distinct_all", "categories", "all",
                   "Distinct product categories bought before the cutoff.",
                   "product categories bought to date"),
        FeatureDef("categories_new_90d", "categories", "90d",
                   "Categories bought for the first time in the 90 days before the cutoff.",
                   "new product categories in last 90 days"),
        FeatureDef("returns_share_365d", "returns", "365d",
                   "Credit notes / gross invoiced value in the 365 days before the cutoff (NaN without sales).",
                   "share of purchases returned (last 365 days)", unit="share"),
        FeatureDef("payment_days_mean_365d", "payment", "365d",
                   "Mean days to pay of invoices paid in the 365 days before the cutoff; an invoice counts "
                   "only once its payment date is before the cutoff (NaN without payments).",
                   "average days to pay", unit="days"),
        FeatureDef("firm_employees", "firm", "asof", "Employees, from the latest snapshot before the cutoff.",
                   "employees"),
        FeatureDef("firm_revenue", "firm", "asof",
                   "Annual revenue of the firm, from the latest snapshot before the cutoff.",
                   "firm revenue", unit="money"),
        FeatureDef("firm_age_years", "firm", "asof", "Years since the firm was founded, at the cutoff.",
                   "company age", unit="years"),
        FeatureDef("firm_credit_score", "firm", "static",
                   "Credit rating as a score: AAA=7, AA=6, A=5, BBB=4, BB=3, B=2, CCC=1.",
                   "credit rating score", unit="score"),
        FeatureDef("firm_industry", "firm", "static", "Industry.", "industry", "categorical", "text"),
        FeatureDef("firm_country", "firm", "static", "Country.", "country", "categorical", "text"),
        FeatureDef("firm_region", "firm", "static", "Sales region.", "region", "categorical", "text"),
        FeatureDef("firm_channel", "firm", "static", "Acquisition channel.", "acquisition channel",
                   "categorical", "text"),
    ]
    by_name = {d.name: d for d in defs}
    for w in windows_days:
        if f"orders_count_prev_{w}d" in by_name:
            by_name[f"orders_count_{w}d"] = _with_compare(by_name[f"orders_count_{w}d"], f"orders_count_prev_{w}d")
            by_name[f"spend_sum_{w}d"] = _with_compare(by_name[f"spend_sum_{w}d"], f"spend_sum_prev_{w}d")
    return list(by_name.values())


def _with_compare(feature: FeatureDef, compare_to: str) -> FeatureDef:
    return FeatureDef(**{**feature.__dict__, "compare_to": compare_to})


def catalogue_markdown(windows_days: tuple[int, ...]) -> str:
    """The catalogue as a Markdown table (the generated docs/features.md)."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated by `kap features-list`; every feature sees only data before the cutoff.",
        "",
        "| name | family | window | kind | definition |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{d.name}` | {d.family} | {d.window} | {d.kind} | {d.definition} |"
        for d in feature_catalogue(windows_days)
    ]
    return "\n".join(lines) + "\n"
