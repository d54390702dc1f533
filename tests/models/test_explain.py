import numpy as np
import pandas as pd

from features.catalogue import feature_catalogue
from models.estimator import LogisticPrior, train_classifier
from models.explain import MIN_YARDSTICK_ROWS, mean_abs_shap, reason_codes, shap_explanation

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


def _explain(features: pd.DataFrame, contributions: dict[str, list[float]], catalogue=CATALOGUE, top_n: int = 3):
    """Reasons with these SHAP values for the named columns, 0 for every other feature column."""
    shap_values = pd.DataFrame(0.0, index=features.index, columns=[c for c in features.columns
                                                                   if c not in ("customer_id", "cutoff")])
    for column, values in contributions.items():
        shap_values[column] = values
    return reason_codes(shap_values, features, catalogue, top_n)


def test_a_single_order_is_one_reason_and_the_next_fact_fills_its_slot():
    features = pd.DataFrame({
        # row 0: one order ever, of 910; row 1: two orders (the largest 910, a credit note leaves spend at 910: equal,
        # not the same fact), the last one of 200 alone in 90 days; row 2: one order of 910, a credit note of 110
        "spend_sum_365d": [910.0, 910.0, 800.0],
        "orders_count_90d": [1.0, 1.0, 1.0],
        "orders_count_365d": [1.0, 2.0, 1.0],
        "orders_count_all": [1.0, 2.0, 1.0],
        "order_value_mean_90d": [910.0, 200.0, 910.0],
        "order_value_max_all": [910.0, 910.0, 910.0],
        "firm_employees": [12.0, 8.0, 30.0],
        "firm_industry": ["Retail", "Retail", "Retail"],
    })
    reasons = _explain(features, {"spend_sum_365d": [0.5, 0.5, 0.45], "order_value_mean_90d": [0.3, 0.3, 0.3],
                                  "order_value_max_all": [0.2, 0.2, 0.2], "firm_employees": [0.1, 0.1, 0.1],
                                  "firm_industry": [-0.05, -0.05, -0.05]})
    assert reasons.loc[0].tolist() == ["one order to date: 910 — raises", "employees: 12 — raises",
                                       "industry: Retail — lowers"]
    assert reasons.loc[1].tolist() == ["spend in last 365 days: 910 — raises",
                                       "one order in the last 90 days: 200 — raises",
                                       "largest order to date: 910 — raises"]
    assert reasons.loc[2].tolist() == ["one order to date: 910 — raises", "spend in last 365 days: 800 — raises",
                                       "employees: 30 — raises"]


def test_a_row_with_fewer_distinct_facts_than_reasons_leaves_the_last_empty():
    features = pd.DataFrame({"spend_sum_365d": [910.0], "orders_count_365d": [1.0], "order_value_mean_365d": [910.0],
                             "order_value_max_365d": [910.0]})
    reasons = _explain(features, {"spend_sum_365d": [-0.5], "order_value_mean_365d": [-0.2],
                                  "order_value_max_365d": [0.1]})
    assert reasons.loc[0].tolist() == ["one order in the last 365 days: 910 — lowers", "", ""]


def test_an_empty_window_reads_no_orders_once():
    catalogue = feature_catalogue((30, 90, 365))
    features = pd.DataFrame({
        "spend_sum_30d": [0.0, 0.0],
        "orders_count_30d": [0.0, 0.0],
        "orders_count_90d": [3.0, 0.0],
        "orders_count_prev_90d": [1.0, 5.0],
        "order_value_mean_30d": [np.nan, np.nan],
        "order_value_max_30d": [np.nan, np.nan],
        "order_value_mean_90d": [100.0, np.nan],
        "firm_employees": [12.0, 40.0],
        "firm_industry": ["Retail", "Logistics"],
    })
    reasons = _explain(features, {"order_value_mean_30d": [0.4, 0.0], "order_value_max_30d": [0.3, 0.0],
                                  "spend_sum_30d": [0.2, 0.0], "orders_count_90d": [0.0, -0.6],
                                  "order_value_mean_90d": [0.0, -0.2], "firm_employees": [0.1, 0.1],
                                  "firm_industry": [-0.05, 0.05]}, catalogue)
    assert reasons.loc[0].tolist() == ["no orders in the last 30 days — raises", "employees: 12 — raises",
                                       "industry: Retail — lowers"]
    # the strongest measure of the empty window says what came before it
    assert reasons.loc[1].tolist() == ["no orders in the last 90 days, orders in the 90 days before that: 5 — lowers",
                                       "employees: 40 — raises", "industry: Logistics — raises"]


def test_standing_among_the_rows_of_each_cutoff():
    # 60 customers at the first cutoff hold 1..60 products, 40 at the second 1..40 (one unknown)
    products = np.r_[np.arange(1.0, 61.0), np.arange(1.0, 41.0)]
    products[99] = np.nan
    features = pd.DataFrame({
        "cutoff": pd.to_datetime(["2024-01-01"] * 60 + ["2024-02-01"] * 40),
        "products_distinct_365d": products,
        "categories_new_90d": np.where(np.arange(100) < 70, 0.0, 1.0),  # 70 without a new category, 30 with one
    })
    reasons = _explain(features, {"products_distinct_365d": 1.0}, top_n=1)["reason_1"]
    assert reasons[55] == "products bought in last 365 days: 56 (highest 9% of eligible customers) — raises"  # 5/60
    assert reasons[39] == "products bought in last 365 days: 40 (highest 35% of eligible customers) — raises"
    assert reasons[98] == "products bought in last 365 days: 39 (highest 3% of eligible customers) — raises"  # 1/39
    assert reasons[5] == "products bought in last 365 days: 6 (lowest 10% of eligible customers) — raises"
    assert reasons[99] == "products bought in last 365 days: unknown — raises"
    ties = _explain(features.drop(columns="cutoff"), {"categories_new_90d": -1.0}, top_n=1)["reason_1"]
    assert ties[0] == "new product categories in last 90 days: 0 (around the median of eligible customers) — lowers"
    assert ties[80] == "new product categories in last 90 days: 1 (highest 30% of eligible customers) — lowers"


def test_money_compares_with_the_median_of_its_industry_and_size():
    # 40 retailers of 10-49 employees spending 1,000 each but three; 10 retailers of 250+; one without industry
    features = pd.DataFrame({
        "spend_sum_365d": [3000.0, 1500.0, 50.0, *[1000.0] * 37, 5000.0, *[200.0] * 9, 700.0],
        "firm_employees": [*[20.0] * 40, *[400.0] * 10, 20.0],
        "firm_industry": [*["Retail"] * 50, None],
    })
    reasons = _explain(features, {"spend_sum_365d": 1.0}, top_n=1)["reason_1"]
    assert reasons[0] == "spend in last 365 days: 3,000 (3× the median of its industry and size) — raises"
    assert reasons[1] == "spend in last 365 days: 1,500 (1.5× the median of its industry and size) — raises"
    # 0.05 of the median reads as a standing, as do a group smaller than MIN_YARDSTICK_ROWS and no industry
    assert reasons[2] == "spend in last 365 days: 50 (lowest 2% of eligible customers) — raises"  # 1/51
    assert reasons[40] == "spend in last 365 days: 5,000 (highest 2% of eligible customers) — raises"
    assert reasons[50] == "spend in last 365 days: 700 (lowest 22% of eligible customers) — raises"  # 11/51
    assert MIN_YARDSTICK_ROWS == 30  # the sizes above are chosen around it


def test_relative_and_text_reasons_carry_no_comparison():
    features = pd.DataFrame({"spend_percentile_365d": np.linspace(0.01, 1.0, 40),
                             "wallet_spend_vs_peers_365d": np.linspace(0.07, 3.0, 40),
                             "firm_country": ["Germany", None] * 20})
    reasons = _explain(features, {"spend_percentile_365d": [1.0] * 40, "wallet_spend_vs_peers_365d": [0.7] * 40,
                                  "firm_country": [0.5] * 40})
    assert reasons.loc[38].tolist() == ["spend rank among all customers (last 365 days): 97% — raises",
                                        "spend vs industry peers of its size: 2.9× — raises",
                                        "country: Germany — raises"]
    assert reasons.loc[1].tolist() == ["spend rank among all customers (last 365 days): 4% — raises",
                                       "spend vs industry peers of its size: 0.1× — raises",
                                       "country: unknown — raises"]
    assert reasons.loc[0, "reason_2"] == "spend vs industry peers of its size: 0.07× — raises"


def test_reasons_for_many_rows_are_fast_enough_and_complete():
    """A sanity check of the vectorised path on a scoring-sized frame (not a timed assertion)."""
    rng = np.random.default_rng(5)
    catalogue = feature_catalogue((30, 90, 180, 365))
    n = 20_000
    features = pd.DataFrame({d.name: rng.choice(["A", "B", None], n) if d.unit == "text"
                             else np.where(rng.random(n) < 0.1, np.nan, rng.poisson(2.0, n).astype(float))
                             for d in catalogue})
    shap_values = pd.DataFrame(rng.normal(size=(n, len(catalogue))), columns=[d.name for d in catalogue])
    reasons = reason_codes(shap_values, features, catalogue, top_n=3)
    assert reasons.shape == (n, 3)
    assert reasons.stack().str.contains(r" — (?:raises|lowers)$").all()
    assert reasons.stack().str.startswith(("no orders", "one order")).any()
    assert sum(reasons[c].str.startswith("no orders in the last 30 days") for c in reasons).max() == 1


def test_a_subset_explained_against_the_whole_population_reads_as_when_all_are_explained():
    """Scoring explains only its top rows; what is typical must still be measured among every eligible row, and
    each reason's effect is the SHAP total of the fact it states."""
    rng = np.random.default_rng(11)
    catalogue = feature_catalogue((30, 90, 180, 365))
    n = 3_000
    features = pd.DataFrame({d.name: rng.choice(["A", "B", None], n) if d.unit == "text"
                             else np.where(rng.random(n) < 0.1, np.nan, rng.poisson(2.0, n).astype(float))
                             for d in catalogue}, index=pd.RangeIndex(n) * 3 + 7)
    shap_values = pd.DataFrame(rng.normal(size=(n, len(catalogue))), columns=[d.name for d in catalogue],
                               index=features.index)
    everyone = reason_codes(shap_values, features, catalogue, top_n=3, with_effects=True)
    top = features.index[rng.choice(n, 40, replace=False)]
    subset = reason_codes(shap_values.loc[top], features.loc[top], catalogue, top_n=3, population=features,
                          with_effects=True)
    pd.testing.assert_frame_equal(subset, everyone.loc[top])
    alone = reason_codes(shap_values.loc[top], features.loc[top], catalogue, top_n=3)
    assert list(alone.columns) == ["reason_1", "reason_2", "reason_3"]
    assert not alone.equals(subset[alone.columns])  # typical among 40 rows is not typical among 3,000
    raising = subset["reason_1"].str.endswith("— raises")
    assert (subset.loc[raising, "effect_1"] >= 0).all() and (subset.loc[~raising, "effect_1"] < 0).all()
    assert (subset["effect_1"].abs() >= subset["effect_2"].abs()).all()
