import numpy as np
import pytest

from models.metrics import cumulative_gains, lift_at_fraction, precision_at_k, ranking_metrics, recall_at_k

Y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def test_precision_and_recall_at_k():
    assert precision_at_k(Y, SCORE, 2) == pytest.approx(0.5)
    assert precision_at_k(Y, SCORE, 3) == pytest.approx(2 / 3)
    assert recall_at_k(Y, SCORE, 3) == pytest.approx(2 / 3)
    assert precision_at_k(Y, SCORE, 100) == pytest.approx(0.3)  # k beyond the rows is capped


def test_lift_top_decile():
    # top 10% = 1 row, a positive; base rate 0.3 → lift 1/0.3
    assert lift_at_fraction(Y, SCORE, 0.1) == pytest.approx(1 / 0.3)


def test_ranking_metrics_known_values():
    metrics = ranking_metrics(Y, SCORE, (2,))
    # average precision: positives at ranks 1, 3, 10 → (1/1 + 2/3 + 3/10) / 3
    assert metrics["pr_auc"] == pytest.approx((1 + 2 / 3 + 0.3) / 3)
    # ROC-AUC: of 3×7 positive/negative pairs, positives outrank negatives in 7 + 6 + 0 = 13
    assert metrics["roc_auc"] == pytest.approx(13 / 21)
    assert metrics["precision_at_2"] == pytest.approx(0.5)
    assert metrics["n_positive"] == 3


def test_nan_scores_rank_last():
    assert precision_at_k([0, 1], [np.nan, 0.1], 1) == 1.0


def test_cumulative_gains_endpoints():
    gains = cumulative_gains(Y, SCORE, points=10)
    assert gains["share_of_positives"].iloc[0] == 0
    assert gains["share_of_positives"].iloc[-1] == pytest.approx(1)
    assert gains["share_of_positives"].iloc[1] == pytest.approx(1 / 3)
