"""Behavioural tests of a trained combined model (directional expectations and invariance, as in Made-With-ML's
tests/model/test_behavioral.py): on small generated data, all else equal."""

import numpy as np
import pandas as pd
import pytest

from models.combined import FitSettings, KeyAccountModel, fit_model
from models.split import time_split

CUTOFFS = list(pd.date_range("2021-01-01", "2024-01-01", freq="MS"))
FEATURES = ("spend_sum_90d", "spend_sum_365d", "orders_count_365d", "recency_days_since_last_order")
# LightGBM's monotone constraints are not set: the directions below are what the model learns from the data
HYPERPARAMETERS = {"n_estimators": 200, "num_leaves": 8, "learning_rate": 0.1, "min_child_samples": 20, "n_jobs": 1}


def _customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
    recent = rng.gamma(2.0, 150.0, n)
    frame = pd.DataFrame({
        "spend_sum_90d": recent,
        "spend_sum_365d": recent * 3 + rng.gamma(2.0, 300.0, n),
        "orders_count_365d": rng.poisson(6, n).astype("float64"),
        "recency_days_since_last_order": rng.integers(1, 365, n).astype("float64"),
        "company_name": [f"Company {i}" for i in range(n)],
        "account_owner": rng.choice(["Ann", "Bob"], n),
    })
    momentum = (np.log1p(frame["spend_sum_90d"]) + 0.5 * np.log1p(frame["spend_sum_365d"])
                + 0.08 * frame["orders_count_365d"] - 0.004 * frame["recency_days_since_last_order"])
    frame["label"] = momentum + rng.normal(0, 0.4, n) > 9.6
    return frame


@pytest.fixture(scope="module")
def trained() -> tuple[KeyAccountModel, pd.DataFrame]:
    rng = np.random.default_rng(7)
    panel = pd.concat([_customers(250, rng).assign(cutoff=cutoff) for cutoff in CUTOFFS], ignore_index=True)
    settings = FitSettings(target="label", features=FEATURES, categorical=(), hyperparameters=HYPERPARAMETERS,
                           early_stopping_rounds=20, seed=1, prior_features=("spend_sum_365d",),
                           calibration_method="isotonic", isotonic_pseudo_rows=1.0, refit=True)
    model, _ = fit_model(panel, time_split(CUTOFFS, 12), settings)
    return model, _customers(400, np.random.default_rng(8)).assign(cutoff=CUTOFFS[-1])


def _share_not_lower(model: KeyAccountModel, before: pd.DataFrame, after: pd.DataFrame) -> float:
    return float((model.raw_score(after) >= model.raw_score(before) - 1e-9).mean())


def test_more_spend_in_the_last_90_days_does_not_lower_the_probability(trained):
    model, customers = trained
    richer = customers.assign(spend_sum_90d=customers["spend_sum_90d"] * 2,
                              spend_sum_365d=customers["spend_sum_365d"] + customers["spend_sum_90d"])
    assert _share_not_lower(model, customers, richer) >= 0.95
    assert model.raw_score(richer).mean() > model.raw_score(customers).mean()


def test_a_more_recent_order_does_not_lower_the_probability(trained):
    model, customers = trained
    recent = customers.assign(recency_days_since_last_order=np.minimum(customers["recency_days_since_last_order"], 7))
    assert _share_not_lower(model, customers, recent) >= 0.95
    assert model.raw_score(recent).mean() > model.raw_score(customers).mean()


def test_more_orders_over_the_year_do_not_lower_the_probability(trained):
    model, customers = trained
    busier = customers.assign(orders_count_365d=customers["orders_count_365d"] + 10)
    assert _share_not_lower(model, customers, busier) >= 0.95


def test_company_name_and_account_owner_do_not_change_the_probability(trained):
    model, customers = trained
    renamed = customers.assign(company_name='=HYPERLINK("x") GmbH',
                               account_owner=customers["account_owner"][::-1].to_numpy())
    pd.testing.assert_series_equal(model.predict(renamed), model.predict(customers))
    pd.testing.assert_series_equal(model.raw_score(customers.sample(frac=1, random_state=0)).sort_index(),
                                   model.raw_score(customers))  # row order changes no customer's score
