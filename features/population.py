"""The population-level step of a feature build split into buckets of customers.

Every feature but a few is a function of one customer's history, so buckets of customers can be built apart
(`features.builder.build_bucket_features`, on as many machines as wanted). The few compare a customer with
every customer at its cutoff (spend percentiles, the median of industry and size-band peers, the owner's
portfolio): the families that hold them declare `compare_with_population`, which reads only a `PopulationView`.
Each bucket returns its share of the population (`population_rows`); `population_features` joins the shares and
runs the same `compare_with_population` functions over the whole population, so both engines share one
definition of every feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from features.catalogue import Family, wanted_families
from features.windows import EveryCustomer, Probes

if TYPE_CHECKING:
    from features.builder import Sources

POPULATION_WINDOWS_DAYS = (90, 365)  # the windows the families compare customers' spend over
POPULATION_COLUMNS = ["customer_id", "cutoff_day", *(f"spend_units_{w}d" for w in POPULATION_WINDOWS_DAYS),
                      *(f"bought_{w}d" for w in POPULATION_WINDOWS_DAYS), "employees"]


class PopulationView(Protocol):
    """What `compare_with_population` reads: the probes, every customer's windows at each cutoff, the customers'
    attributes (industry, account_owner) and sizes (employees) per customer key, at each cutoff."""

    probes: Probes
    every_customer: EveryCustomer
    attributes: pd.DataFrame
    sizes: dict[str, np.ndarray]


def comparing_families(families: tuple[str, ...] | None) -> list[Family]:
    """The wanted families that compare customers with the population."""
    return [family for family in wanted_families(families) if hasattr(family, "compare_with_population")]


def population_rows(sources: Sources, keys: pd.Index, spine_customers: np.ndarray) -> pd.DataFrame:
    """The bucket's share of the population (POPULATION_COLUMNS): per cutoff, each customer that bought in the
    last 365 days or is probed there, with its net spend (integer money units) and whether it bought in each
    POPULATION_WINDOWS_DAYS, and its employees as of the cutoff. `keys`: customer id per key; `spine_customers`:
    the key of each probe."""
    population = sources.every_customer
    population.prepare(*POPULATION_WINDOWS_DAYS)
    cutoffs = sources.probes.cutoffs
    wanted = population.bought(max(POPULATION_WINDOWS_DAYS)).copy()  # (cutoff, customer)
    wanted[np.searchsorted(cutoffs, sources.probes.cutoff_day), spine_customers] = True
    cutoff, customer = np.nonzero(wanted)
    return pd.DataFrame({
        "customer_id": keys.to_numpy()[customer], "cutoff_day": cutoffs[cutoff].astype(np.int32),
        **{f"spend_units_{w}d": population.spend(w)[cutoff, customer] for w in POPULATION_WINDOWS_DAYS},
        **{f"bought_{w}d": population.bought(w)[cutoff, customer] for w in POPULATION_WINDOWS_DAYS},
        "employees": sources.sizes["employees"][customer, cutoff].astype(float)})


class CollectedPopulation:
    """A `PopulationView` over the population rows of every bucket and the spine's probes."""

    def __init__(self, rows: pd.DataFrame, customers: pd.DataFrame, customer_id: pd.Series, cutoff_day: np.ndarray):
        """`rows`: the buckets' population rows together; `customer_id`, `cutoff_day`: the probes, in order."""
        keys = pd.Index(np.unique(np.concatenate([rows["customer_id"].to_numpy(dtype=object),
                                                  customer_id.to_numpy(dtype=object)]).astype(str)))
        self.probes = Probes(keys.get_indexer(customer_id.astype(str)).astype(np.int32), cutoff_day)
        cutoffs = self.probes.cutoffs
        row_customer = keys.get_indexer(rows["customer_id"].astype(str))
        row_cutoff = np.searchsorted(cutoffs, rows["cutoff_day"].to_numpy())
        shape = (len(cutoffs), len(keys))
        spend, bought = {}, {}
        for w in POPULATION_WINDOWS_DAYS:
            spend[w] = np.zeros(shape, np.int64)
            spend[w][row_cutoff, row_customer] = rows[f"spend_units_{w}d"].to_numpy(np.int64)
            bought[w] = np.zeros(shape, bool)
            bought[w][row_cutoff, row_customer] = rows[f"bought_{w}d"].to_numpy(bool)
        self.every_customer = EveryCustomer.collected(self.probes, spend, bought)
        employees = np.full(shape[::-1], np.nan)
        employees[row_customer, row_cutoff] = rows["employees"].to_numpy(float)
        self.sizes = {"employees": employees}
        attributes = customers.drop_duplicates("customer_id").set_index("customer_id")
        self.attributes = attributes.reindex(keys)[["industry", "account_owner"]]


def population_features(features: pd.DataFrame, rows: pd.DataFrame, customers: pd.DataFrame,
                        families: tuple[str, ...] | None) -> pd.DataFrame:
    """`features` (columns customer_id, cutoff, ...) with the population-level features of the wanted families
    computed over the whole population of `rows` (every bucket's `population_rows`)."""
    if "account_owner" not in customers.columns:
        customers = customers.assign(account_owner=None)
    cutoff_day = features["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64)
    view = CollectedPopulation(rows, customers, features["customer_id"], cutoff_day)
    # the families index their output by probe; the view's probes are the feature rows, in order
    values: dict[str, np.ndarray] = {}
    for family in comparing_families(families):
        values |= family.compare_with_population(view)
    return features.assign(**values)
