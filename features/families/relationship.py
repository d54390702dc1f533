"""The account owner's portfolio of active customers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features import catalogue

if TYPE_CHECKING:
    from features.builder import Sources
    from features.population import PopulationView

NAME = "relationship"
READS = frozenset({"spend"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The relationship feature (the same for every windows)."""
    return [catalogue.FeatureDef("relationship_owner_portfolio_365d", NAME, "365d",
                                 "Customers of the same account owner that bought in the last 365 days (NaN without "
                                 "owner).", "account owner's active customers")]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    return compare_with_population(sources)


def compare_with_population(sources: Sources | PopulationView) -> dict[str, np.ndarray]:
    """Per probe, ALL customers of its account owner with an invoice in the 365 days before its cutoff."""
    out = np.full(len(sources.probes.customer), np.nan)
    owner = sources.attributes["account_owner"].to_numpy()
    population = sources.every_customer
    for i, cutoff in enumerate(sources.probes.cutoffs):
        at, customer = population.probes_at(cutoff)
        portfolio = pd.Series(owner[population.bought(365)[i]]).value_counts().reindex(owner[customer])
        out[at] = portfolio.to_numpy(dtype=float)
    return {"relationship_owner_portfolio_365d": out}
