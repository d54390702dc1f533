"""Spend against the firm's revenue and against what firms like it spend with us."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features import catalogue
from features.families.common import from_units

if TYPE_CHECKING:
    from features.builder import Sources
    from features.population import PopulationView

NAME = "wallet"
READS = frozenset({"spend"})
PEER_SIZE_BANDS = (10, 50, 250)  # employees: micro, small, medium, large firms (the EU's SME size classes)


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The wallet features (the same for every windows)."""
    feature = catalogue.FeatureDef
    return [
        feature("wallet_spend_to_revenue_365d", NAME, "365d",
                "Net spend in the last 365 days / the firm's annual revenue as of the cutoff (share-of-wallet proxy; "
                "NaN without revenue).", "our share of the firm's revenue", unit="ratio"),
        feature("wallet_spend_vs_peers_365d", NAME, "365d",
                "Net spend in the last 365 days / the median of the customers of the same industry and size band "
                f"(employees as of the cutoff, bands at {', '.join(map(str, PEER_SIZE_BANDS))}; unknown size is a "
                "band of its own) that bought in that window (what a firm like this typically spends with us; NaN "
                "without industry).", "spend vs industry peers of its size", unit="multiple", typical=None),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    spend = from_units(sources.days.sum("spend", 365))
    revenue = sources.size_at_probes("annual_revenue")
    return {"wallet_spend_to_revenue_365d": spend / np.where(revenue > 0, revenue, np.nan),
            **compare_with_population(sources)}


def compare_with_population(sources: Sources | PopulationView) -> dict[str, np.ndarray]:
    """Spend over the median of ALL customers of the same industry and size band with an invoice in the last
    365 days before the cutoff (whatever the spine holds: training and scoring agree)."""
    out = np.full(len(sources.probes.customer), np.nan)
    industry = sources.attributes["industry"].to_numpy()
    population = sources.every_customer
    for i, cutoff in enumerate(sources.probes.cutoffs):
        at, customer = population.probes_at(cutoff)
        active = population.bought(365)[i]
        employees = sources.sizes["employees"][:, i]
        band = np.where(np.isnan(employees), -1, np.searchsorted(PEER_SIZE_BANDS, employees, "right"))
        spend = from_units(population.spend(365)[i])
        median = (pd.Series(spend[active]).groupby([industry[active], band[active]]).median()
                  .reindex(pd.MultiIndex.from_arrays([industry[customer], band[customer]])).to_numpy())
        out[at] = spend[customer] / np.where(median > 0, median, np.nan)
    return {"wallet_spend_vs_peers_365d": out}
