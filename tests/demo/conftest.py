"""Simulated worlds shared by the simulator's and the oracle's tests (each generated once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from demo.simulator import DemoTables, SimulationSettings, generate_demo


def world(n_customers: int, years: int) -> SimulationSettings:
    """A world of the demo's default catalogue and sales team from 2020 on."""
    start = pd.Timestamp("2020-01-01")
    return SimulationSettings(n_customers=n_customers, start=start, end=start + pd.DateOffset(years=years),
                              n_categories=24, n_products=1500, n_account_owners=25)


SMALL = world(1500, years=2)
MEDIUM = world(3000, years=2)
LONG = world(2500, years=5)  # room for a whole pilot, ramp and the months around them


@pytest.fixture(scope="session")
def small() -> DemoTables:
    return generate_demo(SMALL, seed=7)


@pytest.fixture(scope="session")
def medium() -> DemoTables:
    return generate_demo(MEDIUM, seed=11)


@pytest.fixture(scope="session")
def long() -> DemoTables:
    return generate_demo(LONG, seed=13)


def realised_spend(tx: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Net spend per customer with at least one line in [start, end)."""
    window = tx[(tx["timestamp"] >= start) & (tx["timestamp"] < end)]
    return window.groupby("customer_id")["amount"].sum()

