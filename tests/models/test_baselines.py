import numpy as np
import pandas as pd
import pytest

from features.labels import KeyAccountRule, eligibility
from models.baselines import (
    fit_logistic_regression,
    growth_rank_score,
    logistic_regression_score,
    order_count_rank_score,
    recency_weighted_spend,
    rfm_score,
    spend_rank_score,
    trailing_spend_rank_score,
)
from models.metrics import ranking_metrics
from models.rankings import (
    SPEND_RANK,
    bar_window_spend_rank,
    baseline_names,
    ranking_description,
    rankings_in,
    spend_rank,
)
from models.spec import FeatureSpec
from tests.conftest import transactions_frame

CUTOFF = pd.Timestamp("2023-07-01")


def test_spend_rank_at_each_window_reads_that_windows_spend():
    frame = pd.DataFrame({"spend_sum_90d": [50.0, 10.0, 0.0], "spend_sum_365d": [60.0, 900.0, 5.0]})
    assert spend_rank_score(frame, 90).sort_values(ascending=False).index.tolist() == [0, 1, 2]
    assert spend_rank_score(frame).sort_values(ascending=False).index.tolist() == [1, 0, 2]


def test_the_bar_window_spend_rank_reads_only_lines_before_the_cutoff(known_history):
    late = transactions_frame([("B", "I6", "2023-07-01 00:00", "Paint", 10_000.0, 5),   # at the cutoff
                               ("B", "I7", "2023-09-01 00:00", "Paint", 10_000.0, 5)])  # after it
    history = pd.concat([known_history, late], ignore_index=True)
    spine = pd.DataFrame({"customer_id": ["A", "B"], "cutoff": CUTOFF})
    rows = eligibility(history, spine, KeyAccountRule(rule="absolute", trailing_months=12), active_months=12)
    score = trailing_spend_rank_score(rows)
    # A: 100 + 200 + 50 + 300 - 60 in [2022-07-01, 2023-07-01) (the 999 at the cutoff is invisible); B: 80
    assert score.tolist() == pytest.approx([590.0, 80.0])


def test_order_count_rank_orders_by_orders_then_spend():
    frame = pd.DataFrame({"orders_count_365d": [3, 3, 1, 0], "spend_sum_365d": [10.0, 50.0, 999.0, 0.0]})
    assert order_count_rank_score(frame).sort_values(ascending=False).index.tolist() == [1, 0, 2, 3]


def test_recency_weighted_spend_halves_each_half_life_and_ignores_the_cutoff_and_after(known_history):
    ages = {"A": [(100.0, 350 + 14 / 24), (250.0, 112.625), (300.0, 10.5), (-60.0, 5.5)], "B": [(80.0, 176 + 2 / 3)]}
    expected = {c: sum(amount * 0.5 ** (age / 90) for amount, age in lines) for c, lines in ages.items()}
    spend = recency_weighted_spend(known_history, CUTOFF, pd.Index(["A", "B", "C"]), half_life_days=90)
    assert spend.to_dict() == pytest.approx(expected | {"C": 0.0})  # A's 999 at the cutoff is left out; C has none
    exactly_one_half_life = transactions_frame([("D", "I1", "2023-04-02 00:00", "Tools", 100.0, 0)])
    assert recency_weighted_spend(exactly_one_half_life, CUTOFF, pd.Index(["D"]), 90).tolist() == [50.0]


def test_baseline_names_cover_every_window_and_list_the_bar_window_only_when_it_is_no_feature_window():
    assert baseline_names((30, 90, 180, 365), 12) == (
        "spend_rank_30d_baseline", "spend_rank_90d_baseline", "spend_rank_180d_baseline", "spend_rank_baseline",
        "order_count_rank_baseline", "recency_weighted_spend_rank_baseline", "growth_rank_baseline", "rfm_baseline",
        "logistic_regression_baseline", "bgnbd_gamma_gamma_baseline")
    assert baseline_names((90, 365), 6)[:3] == ("spend_rank_90d_baseline", SPEND_RANK, "spend_rank_6m_baseline")
    assert bar_window_spend_rank(24) not in baseline_names((365, 730), 24)  # two years: the 730-day window
    assert bar_window_spend_rank(24) in baseline_names((90, 365), 24)


def test_rankings_are_recognised_by_name_whatever_the_window():
    columns = ["customer_id", "outcome_spend", "model", spend_rank(45), "spend_rank_6m_baseline", "model_probability",
               "oracle", "industry"]
    assert rankings_in(columns) == ["model", "spend_rank_45d_baseline", "spend_rank_6m_baseline", "oracle"]
    assert ranking_description(spend_rank(90)) == "ranking by spend over the last 90 days"
    assert ranking_description(SPEND_RANK) == "ranking by spend over the last 365 days"
    assert ranking_description("spend_rank_6m_baseline") == (
        "ranking by spend over the last 6 months, the key-account bar's window")


def test_growth_rank_orders_by_growth_then_spend_and_puts_no_history_last():
    frame = pd.DataFrame({"spend_growth_90d": [0.5, 0.5, -0.2, np.nan], "spend_sum_90d": [10.0, 50.0, 99.0, 0.0]})
    score = growth_rank_score(frame)
    assert list(score.sort_values(ascending=False).index) == [1, 0, 2, 3]


def test_rfm_sums_quintile_scores_within_each_cutoff():
    frame = pd.DataFrame({
        "cutoff": pd.Timestamp("2024-01-01"),
        "recency_days_since_last_order": [1.0, 10, 20, 30, 40],
        "orders_count_365d": [50.0, 40, 30, 20, 10],
        "spend_sum_365d": [500.0, 400, 300, 200, 100],
    })
    assert rfm_score(frame).tolist() == [15, 12, 9, 6, 3]
    other_cutoff = frame.assign(cutoff=pd.Timestamp("2024-02-01"), spend_sum_365d=frame["spend_sum_365d"] * 100)
    both = rfm_score(pd.concat([frame, other_cutoff], ignore_index=True))
    assert both.tolist() == [15, 12, 9, 6, 3] * 2  # ranks are taken per cutoff, not across


def test_logistic_regression_learns_a_separable_signal_and_takes_unseen_levels():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600),
                          "industry": rng.choice(["Retail", "Wholesale", None], 600)})
    y = pd.Series(frame["signal"] + 0.3 * rng.normal(size=600) > 1.0)
    spec = FeatureSpec.fit(frame, ["signal", "noise", "industry"], ["industry"])
    model = fit_logistic_regression(spec.conform(frame), y, spec, seed=0)
    unseen = spec.conform(frame.assign(industry="Mining"))
    score = logistic_regression_score(model, unseen, spec)
    assert ranking_metrics(y, score, (50,))["roc_auc"] > 0.95
    assert score.between(0, 1).all() and score.index.equals(frame.index)
    with pytest.raises(ValueError):
        fit_logistic_regression(spec.conform(frame), y.iloc[:10], spec, seed=0)
