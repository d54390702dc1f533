import numpy as np
import pandas as pd
import pytest

from models.baselines import fit_logistic_regression, growth_rank_score, logistic_regression_score, rfm_score
from models.metrics import ranking_metrics
from models.spec import FeatureSpec


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
