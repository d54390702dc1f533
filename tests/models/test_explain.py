import numpy as np
import pandas as pd

from features.catalogue import feature_catalogue
from models.estimator import LogisticPrior, train_classifier
from models.explain import mean_abs_shap, reason_codes, shap_explanation

CATALOGUE = feature_catalogue((90, 180, 365))


def test_reasons_pick_largest_contributions_in_plain_words():
    features = pd.DataFrame({
        "orders_count_90d": [14.0, 2.0],
        "orders_count_prev_90d": [5.0, 6.0],
        "firm_industry": ["Retail", None],
        "returns_share_365d": [0.1, np.nan],
    })
    shap_values = pd.DataFrame({
        "orders_count_90d": [0.9, -0.4],
        "orders_count_prev_90d": [0.0, 0.01],
        "firm_industry": [-0.3, 0.05],
        "returns_share_365d": [0.01, 0.2],
    })
    reasons = reason_codes(shap_values, features, CATALOGUE, top_n=2)
    assert reasons.loc[0].tolist() == ["orders in last 90 days: 14, up from 5 — raises", "industry: Retail — lowers"]
    assert reasons.loc[1].tolist() == [
        "orders in last 90 days: 2, down from 6 — lowers",
        "share of purchases returned (last 365 days): unknown — raises",
    ]


def test_shap_values_add_up_to_the_model_output():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    label = pd.Series(frame["a"] + rng.normal(size=400) > 0.5)
    booster = train_classifier(frame, label, frame, label, {"n_estimators": 30}, 5, seed=0).booster
    explanation = shap_explanation(booster, frame)
    log_odds = booster.predict(frame, raw_score=True)
    np.testing.assert_allclose(explanation.values.sum(axis=1) + explanation.base_values, log_odds, atol=1e-6)
    assert mean_abs_shap(explanation)["feature"].iloc[0] == "a"


def test_shap_values_with_a_prior_add_up_to_trees_plus_prior():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"spend": rng.gamma(1.0, 500.0, 600), "b": rng.normal(size=600)})
    label = pd.Series(np.log1p(frame["spend"]) + frame["b"] + rng.normal(size=600) > 6.5)
    prior = LogisticPrior.fit(frame, label, ("spend",))
    booster = train_classifier(frame, label, frame, label, {"n_estimators": 30}, 5, seed=0, prior=prior).booster
    explanation = shap_explanation(booster, frame, prior)
    log_odds = booster.predict(frame, raw_score=True) + prior.log_odds(frame)
    np.testing.assert_allclose(explanation.values.sum(axis=1) + explanation.base_values, log_odds, atol=1e-6)
    trees_only = shap_explanation(booster, frame)
    np.testing.assert_allclose(explanation.values[:, 0] - trees_only.values[:, 0], prior.contributions(frame)[:, 0])
    np.testing.assert_allclose(explanation.values[:, 1], trees_only.values[:, 1])


def test_reasons_give_one_measure_once_ranked_by_its_windows_summed():
    features = pd.DataFrame({
        "spend_sum_365d": [4000.0, 2500.0],
        "spend_sum_all": [9000.0, 30000.0],
        "orders_count_365d": [30.0, 12.0],
        "firm_industry": ["Retail", "Logistics"],
    })
    shap_values = pd.DataFrame({
        "spend_sum_365d": [0.5, 0.5],
        "spend_sum_all": [0.3, -0.7],
        "orders_count_365d": [0.6, 0.1],
        "firm_industry": [-0.2, -0.15],
    })
    reasons = reason_codes(shap_values, features, CATALOGUE, top_n=2)
    # row 0: spend's two windows (0.5 + 0.3) outrank the single largest feature (orders, 0.6)
    assert reasons.loc[0].tolist() == ["spend in last 365 days: 4,000 — raises", "orders in last 365 days: 30 — raises"]
    # row 1: spend nets to -0.2, shown by the window that lowers; the spend measure is not repeated
    assert reasons.loc[1].tolist() == ["spend to date: 30,000 — lowers", "industry: Logistics — lowers"]


def test_every_window_of_a_measure_shares_its_measure():
    measures = {d.name: d.measure for d in CATALOGUE}
    assert measures["spend_sum_90d"] == measures["spend_sum_all"] == "spend_sum"
    assert measures["spend_sum_prev_90d"] == "spend_sum_prev"
    assert measures["categories_added_180d"] == measures["categories_added_365d"] == "categories_added"
    assert measures["firm_employees"] == "firm_employees"
