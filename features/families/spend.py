"""Net spend per window, before it, a year before, its growth, monthly slope, rank among customers, to date."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.common import GROWTH_WINDOWS_DAYS, from_units, growth

if TYPE_CHECKING:
    from features.builder import Sources
    from features.population import PopulationView

NAME = "spend"
READS = frozenset({"spend"})
PERCENTILE_WINDOWS_DAYS = (90, 365)
SLOPE_MONTHS = 12  # monthly spend slope over 12 buckets of 30 days


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The spend features for these windows."""
    feature = catalogue.FeatureDef
    defs = [feature(f"spend_sum_{w}d", NAME, f"{w}d",
                    f"Net spend (invoices minus credit notes) in the {w} days before the cutoff.",
                    f"spend in last {w} days", unit="money",
                    compare_to=f"spend_sum_prev_{w}d" if w in GROWTH_WINDOWS_DAYS else None,
                    orders_feature=f"orders_count_{w}d", typical="peers")
            for w in windows_days]
    defs += [feature(f"spend_percentile_{w}d", NAME, f"{w}d",
                     f"Share of the customers that bought in the {w} days before the cutoff whose net spend there "
                     "is at most this customer's (0 without purchases); relative, so it survives seasonality and "
                     "short history.", f"spend rank among all customers (last {w} days)", unit="share",
                     typical=None)
             for w in PERCENTILE_WINDOWS_DAYS]
    for w in GROWTH_WINDOWS_DAYS:
        defs += [
            feature(f"spend_sum_prev_{w}d", NAME, f"prev_{w}d", f"Net spend in the {w} days before the last {w} days.",
                    f"spend in the {w} days before that", unit="money", typical="peers"),
            feature(f"spend_growth_{w}d", NAME, f"{w}d",
                    f"(last {w}d - previous {w}d) / (last + previous) net spend, in [-1, 1]; NaN when both are zero.",
                    f"spend trend over last {w} days", unit="ratio"),
        ]
    return [
        *defs,
        feature("spend_sum_prev_year_90d", NAME, "prev_year_90d",
                "Net spend in the same 90 days one year earlier ([cutoff - 365d, cutoff - 275d)).",
                "spend in the same 90 days last year", unit="money", typical="peers"),
        feature("spend_growth_yoy_90d", NAME, "90d",
                "(last 90d - same 90d last year) / (sum of both) net spend, in [-1, 1]; seasonal peaks do not look "
                "like growth. NaN when both are zero.", "spend vs the same season last year", unit="ratio"),
        feature("spend_slope_365d", NAME, "365d",
                f"Least-squares slope of net spend per 30-day bucket over the last {SLOPE_MONTHS} buckets (money per "
                "month; positive = growing).", "monthly spend trend over the last year", unit="money"),
        feature("spend_sum_all", NAME, "all", "Net spend over all history before the cutoff.", "spend to date",
                unit="money", orders_feature="orders_count_all", typical="peers"),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    w, v = sources.days, {}
    w.prefetch(None, 0, *sources.windows_days, *GROWTH_WINDOWS_DAYS, *(2 * g for g in GROWTH_WINDOWS_DAYS), 90, 275,
               365)

    def spend(start: int | None, end: int = 0) -> np.ndarray:
        return from_units(w.sum("spend", start, end))

    for days in sources.windows_days:
        v[f"spend_sum_{days}d"] = spend(days)
    v |= compare_with_population(sources)
    for days in GROWTH_WINDOWS_DAYS:
        v[f"spend_sum_prev_{days}d"] = spend(2 * days, days)
        v[f"spend_growth_{days}d"] = growth(spend(days), v[f"spend_sum_prev_{days}d"])
    v["spend_sum_prev_year_90d"] = spend(365, 275)
    v["spend_growth_yoy_90d"] = growth(spend(90), v["spend_sum_prev_year_90d"])
    centre = (SLOPE_MONTHS - 1) / 2
    before = w.sums_before("spend", [30 * k for k in range(SLOPE_MONTHS + 1)])
    weighted = sum(((SLOPE_MONTHS - k) - centre) * (before[k - 1] - before[k]) for k in range(1, SLOPE_MONTHS + 1))
    v["spend_slope_365d"] = from_units(weighted) / sum((t - centre) ** 2 for t in range(SLOPE_MONTHS))
    v["spend_sum_all"] = spend(None)
    return v


def compare_with_population(sources: Sources | PopulationView) -> dict[str, np.ndarray]:
    """Rank of the customer's spend among ALL customers with an invoice in the window before its cutoff, so a
    customer's value does not depend on which other customers the spine holds: training and scoring agree."""
    out = {f"spend_percentile_{window}d": np.full(len(sources.probes.customer), np.nan)
           for window in PERCENTILE_WINDOWS_DAYS}
    population = sources.every_customer
    population.prepare(*PERCENTILE_WINDOWS_DAYS, 365)  # one pass, shared with the wallet and relationship families
    for i, cutoff in enumerate(sources.probes.cutoffs):
        at, customer = population.probes_at(cutoff)
        for window in PERCENTILE_WINDOWS_DAYS:
            peers = np.flatnonzero(population.bought(window)[i])
            peer_spend = population.spend(window)[i][peers]
            percentile = np.zeros(population.n_customers)  # 0 without an invoice in the window
            percentile[peers] = np.searchsorted(np.sort(peer_spend), peer_spend, "right") / len(peers)
            out[f"spend_percentile_{window}d"][at] = percentile[customer]
    return out
