"""The feature catalogue: name, family, window, definition and the plain words sales reads.

Names follow `<family>_<measure>_<window>`. The catalogue is generated from the configured windows so
the builder, the reason codes and the documentation can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

GROWTH_WINDOWS_DAYS = (90, 180)
PERCENTILE_WINDOWS_DAYS = (90, 365)
SLOPE_MONTHS = 12  # monthly spend slope over 12 buckets of 30 days
LATE_PAYMENT_DAYS = 30  # an invoice paid after more days than this counts as paid late
PEER_SIZE_BANDS = (10, 50, 250)  # employees: micro, small, medium, large firms (the EU's SME size classes)
ADDED_WINDOWS_DAYS = (180, 365)  # breadth added beyond the opening basket: how far into an expansion a customer is
EXPANSION_WINDOWS_DAYS = (90, 180)  # recent buying whose share in newly added categories shows a trial
EXPANSION_LOOKBACK_DAYS = 365  # a category is newly added if first bought this many days before the cutoff or later
# the feature families in output column order; a family's features are contiguous, in declaration order
FAMILIES = ("spend", "orders", "order", "cadence", "recency", "tenure", "categories", "products", "expansion",
            "returns", "payment", "wallet", "relationship", "firm")


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

    @property
    def measure(self) -> str:
        """The name without its trailing window length: `spend_sum_90d` and `spend_sum_all` are both
        `spend_sum` (one reason for sales), `spend_sum_prev_90d` is `spend_sum_prev`."""
        return re.sub(r"_(\d+d|all)$", "", self.name)


def _breadth_added(family: str, noun: str) -> list[FeatureDef]:
    """`<family>_added_<w>d`: values (categories, products) first bought in the window, beyond the opening basket."""
    return [FeatureDef(f"{family}_added_{w}d", family, f"{w}d",
                       f"{noun.capitalize()} bought for the first time in the {w} days before the cutoff, not "
                       f"counting those of the customer's first purchase day (breadth added beyond its opening "
                       f"basket).", f"{noun} added in last {w} days") for w in ADDED_WINDOWS_DAYS]


def _expansion_shares() -> list[FeatureDef]:
    """`expansion_{line,spend}_share_<w>d`: how much of the recent buying tries categories added this year."""
    added = (f"categories the customer first bought in the {EXPANSION_LOOKBACK_DAYS} days before the cutoff, after "
             "its first purchase day")
    return [FeatureDef(f"expansion_{measure}_share_{w}d", "expansion", f"{w}d",
                       f"Share of the {what} in the {w} days before the cutoff that went to {added} (a customer "
                       f"trying new ranges: a pilot); NaN without purchases.",
                       f"{noun} in newly added categories (last {w} days)", unit="share")
            for w in EXPANSION_WINDOWS_DAYS
            for measure, what, noun in (("line", "purchase lines (amount > 0)", "purchase lines"),
                                        ("spend", "purchase value (lines with amount > 0)", "purchases"))]


def feature_catalogue(windows_days: tuple[int, ...], families: tuple[str, ...] | None = None) -> list[FeatureDef]:
    """The features the builder produces for these windows, in output column order; only the given
    families when `families` is set."""
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
            FeatureDef(f"order_value_max_{w}d", "order", f"{w}d",
                       f"Largest gross order value in the {w} days before the cutoff (NaN without orders).",
                       f"largest order in last {w} days", unit="money"),
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
        FeatureDef("spend_sum_prev_year_90d", "spend", "prev_year_90d",
                   "Net spend in the same 90 days one year earlier ([cutoff - 365d, cutoff - 275d)).",
                   "spend in the same 90 days last year", unit="money"),
        FeatureDef("spend_growth_yoy_90d", "spend", "90d",
                   "(last 90d - same 90d last year) / (sum of both) net spend, in [-1, 1]; seasonal peaks do "
                   "not look like growth. NaN when both are zero.",
                   "spend vs the same season last year", unit="ratio"),
        FeatureDef("spend_slope_365d", "spend", "365d",
                   f"Least-squares slope of net spend per 30-day bucket over the last {SLOPE_MONTHS} buckets "
                   "(money per month; positive = growing).",
                   "monthly spend trend over the last year", unit="money"),
        FeatureDef("spend_sum_all", "spend", "all", "Net spend over all history before the cutoff.",
                   "spend to date", unit="money"),
        FeatureDef("order_value_max_all", "order", "all", "Largest gross order value before the cutoff.",
                   "largest order to date", unit="money"),
        FeatureDef("cadence_days_between_orders_all", "cadence", "all",
                   "Mean days between consecutive orders: (last order day - first order day) / (orders - 1); "
                   "NaN with fewer than two orders.",
                   "average days between orders", unit="days"),
        FeatureDef("cadence_gap_mean_365d", "cadence", "365d",
                   "Mean days between consecutive orders in the 365 days before the cutoff: (last - first order "
                   "day there) / (orders there - 1); NaN with fewer than two orders there.",
                   "average days between orders (last year)", unit="days"),
        FeatureDef("cadence_gap_trend_365d", "cadence", "365d",
                   "Mean days between consecutive orders in the last 365 days minus that in the 365 days before "
                   "(negative = ordering more often); NaN with fewer than two orders in either.",
                   "change in days between orders vs the year before", unit="days"),
        FeatureDef("cadence_active_months_365d", "cadence", "365d",
                   "Calendar months with a purchase among the 365 days before the cutoff.",
                   "months with purchases in the last year"),
        FeatureDef("cadence_days_per_order_trend_180d", "cadence", "180d",
                   "Days per order in the last 180 days minus in the 180 days before (negative = ordering more "
                   "often); NaN without orders in either.",
                   "change in days between orders", unit="days"),
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
        FeatureDef("categories_top_share_365d", "categories", "365d",
                   "Share of the purchase value (lines with amount > 0) of the 365 days before the cutoff that "
                   "went to its top category (1 = one category only); NaN without purchases.",
                   "share of purchases in the top category (last 365 days)", unit="share"),
        FeatureDef("categories_new_90d", "categories", "90d",
                   "Categories bought for the first time in the 90 days before the cutoff.",
                   "new product categories in last 90 days"),
        *_breadth_added("categories", "product categories"),
        FeatureDef("products_distinct_365d", "products", "365d",
                   "Distinct products bought in the 365 days before the cutoff.",
                   "products bought in last 365 days"),
        FeatureDef("products_distinct_all", "products", "all", "Distinct products bought before the cutoff.",
                   "products bought to date"),
        FeatureDef("products_new_90d", "products", "90d",
                   "Products bought for the first time in the 90 days before the cutoff.",
                   "new products in last 90 days"),
        *_breadth_added("products", "products"),
        *_expansion_shares(),
        FeatureDef("returns_share_365d", "returns", "365d",
                   "Credit notes / gross invoiced value in the 365 days before the cutoff (NaN without sales).",
                   "share of purchases returned (last 365 days)", unit="share"),
        FeatureDef("payment_days_mean_365d", "payment", "365d",
                   "Mean days to pay of invoices paid in the 365 days before the cutoff; an invoice counts "
                   "only once its payment date is before the cutoff (NaN without payments).",
                   "average days to pay", unit="days"),
        FeatureDef("payment_days_trend_180d", "payment", "180d",
                   "Mean days to pay of invoices paid in the last 180 days minus that of the 180 days before "
                   "(negative = paying faster); NaN if either has no payment.",
                   "change in days to pay", unit="days"),
        FeatureDef("payment_late_share_365d", "payment", "365d",
                   f"Share of invoices paid in the last 365 days that took more than {LATE_PAYMENT_DAYS} days "
                   "(NaN without payments).",
                   "share of invoices paid late", unit="share"),
        FeatureDef("wallet_spend_to_revenue_365d", "wallet", "365d",
                   "Net spend in the last 365 days / the firm's annual revenue as of the cutoff (share-of-wallet "
                   "proxy; NaN without revenue).",
                   "our share of the firm's revenue", unit="ratio"),
        FeatureDef("wallet_spend_vs_peers_365d", "wallet", "365d",
                   "Net spend in the last 365 days / the median of the customers of the same industry and size "
                   f"band (employees as of the cutoff, bands at {', '.join(map(str, PEER_SIZE_BANDS))}; unknown "
                   "size is a band of its own) that bought in that window (what a firm like this typically spends "
                   "with us; NaN without industry).",
                   "spend vs industry peers of its size", unit="ratio"),
        FeatureDef("relationship_owner_portfolio_365d", "relationship", "365d",
                   "Customers of the same account owner that bought in the last 365 days (NaN without owner).",
                   "account owner's active customers"),
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
    ordered = sorted(by_name.values(), key=lambda d: FAMILIES.index(d.family))  # stable: declaration order within
    if families is not None:
        unknown = set(families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown feature families {sorted(unknown)}")
        return [d for d in ordered if d.family in families]
    return ordered


def feature_families(windows_days: tuple[int, ...]) -> list[str]:
    """Every family name, in catalogue order."""
    return list(FAMILIES)


def _with_compare(feature: FeatureDef, compare_to: str) -> FeatureDef:
    return FeatureDef(**{**feature.__dict__, "compare_to": compare_to})


def catalogue_markdown(windows_days: tuple[int, ...], families: tuple[str, ...] | None = None) -> str:
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
        for d in feature_catalogue(windows_days, families)
    ]
    return "\n".join(lines) + "\n"
