"""Simulated worlds shared by the simulators' and the oracles' tests (each generated once per session)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from demo.common import ADOPTION, PROJECTS, DemoTables, SimulationSettings
from demo.worlds import generate


def world(n_customers: int, years: int, kind: str = ADOPTION) -> SimulationSettings:
    """A world of the demo's default catalogue and sales team from 2020 on."""
    start = pd.Timestamp("2020-01-01")
    return SimulationSettings(n_customers=n_customers, start=start, end=start + pd.DateOffset(years=years),
                              n_categories=24, n_products=1500, n_account_owners=25, world=kind)


SMALL = world(1500, years=2)
MEDIUM = world(3000, years=2)
LONG = world(2500, years=5)  # room for a whole pilot, ramp and the months around them
PROJECT_SMALL = world(1500, years=2, kind=PROJECTS)
PROJECT_MEDIUM = world(3000, years=4, kind=PROJECTS)  # room for bids, projects and their momentum


@dataclass(frozen=True)
class Simulated:
    """A generated world with the settings and seed it came from."""

    settings: SimulationSettings
    seed: int
    tables: DemoTables


@pytest.fixture(scope="session")
def small() -> DemoTables:
    return generate(SMALL, seed=7)


@pytest.fixture(scope="session")
def medium() -> DemoTables:
    return generate(MEDIUM, seed=11)


@pytest.fixture(scope="session")
def long() -> DemoTables:
    return generate(LONG, seed=13)


@pytest.fixture(scope="session")
def project_small() -> DemoTables:
    return generate(PROJECT_SMALL, seed=7)


@pytest.fixture(scope="session")
def project_medium() -> DemoTables:
    return generate(PROJECT_MEDIUM, seed=11)


@pytest.fixture(scope="session", params=[ADOPTION, PROJECTS])
def small_world(request: pytest.FixtureRequest) -> Simulated:
    """The small world of each kind."""
    if request.param == ADOPTION:
        return Simulated(SMALL, 7, request.getfixturevalue("small"))
    return Simulated(PROJECT_SMALL, 7, request.getfixturevalue("project_small"))


@pytest.fixture(scope="session", params=[ADOPTION, PROJECTS])
def medium_world(request: pytest.FixtureRequest) -> Simulated:
    """The medium world of each kind."""
    if request.param == ADOPTION:
        return Simulated(MEDIUM, 11, request.getfixturevalue("medium"))
    return Simulated(PROJECT_MEDIUM, 11, request.getfixturevalue("project_medium"))


def realised_spend(tx: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Net spend per customer with at least one line in [start, end)."""
    window = tx[(tx["timestamp"] >= start) & (tx["timestamp"] < end)]
    return window.groupby("customer_id")["amount"].sum()
