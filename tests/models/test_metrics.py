import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss

from models.metrics import (
    _weighted_average_precision,
    bootstrap_average_precision,
    brier_score,
    capacity_metrics,
    cumulative_gains,
    expected_calibration_error,
    lift_at_fraction,
    normalized_gini,
    percentile_interval,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    reliability_curve,
    revenue_captured_at_k,
    segment_metrics,
)

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


# --- revenue captured -------------------------------------------------------------------------------------------

def test_revenue_captured_counts_only_positives_revenue():
    y = [1, 0, 1, 1, 0]
    score = [0.9, 0.8, 0.7, 0.1, 0.6]
    revenue = [100.0, 500.0, 50.0, 250.0, 30.0]
    # positives hold 100 + 50 + 250 = 400; the top 3 rows (0, 1, 2) hold positives 0 and 2: 150 / 400.
    # Row 1's 500 is a negative's revenue and does not count.
    assert revenue_captured_at_k(revenue, y, score, 3) == pytest.approx(0.375)
    assert revenue_captured_at_k(revenue, y, score, 1) == pytest.approx(0.25)
    assert revenue_captured_at_k(revenue, y, score, 0) == 0
    assert revenue_captured_at_k(revenue, y, score, 99) == pytest.approx(1.0)


def test_revenue_captured_edge_cases():
    assert np.isnan(revenue_captured_at_k([10.0, 20.0], [0, 0], [0.1, 0.2], 1))  # no positives
    assert np.isnan(revenue_captured_at_k([0.0, 20.0], [1, 0], [0.1, 0.2], 1))  # positives without revenue
    # NaN score ranks last: top 1 is row 1 (100 of 300 + 100)
    assert revenue_captured_at_k([300.0, 100.0], [1, 1], [np.nan, 0.5], 1) == pytest.approx(0.25)
    # ties keep the original order: top 1 is row 0
    assert revenue_captured_at_k([300.0, 100.0], [1, 1], [0.5, 0.5], 1) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        revenue_captured_at_k([1.0], [1, 0], [0.1, 0.2], 1)


# --- normalized Gini --------------------------------------------------------------------------------------------

ACTUAL = np.array([10.0, 0.0, 40.0, 0.0, 50.0])
# Gini(order) = Σ cumulative share / n − (n + 1) / 2n, here n = 5 so the offset is 0.6.
# Perfect order 50, 40, 10, 0, 0: shares .5 .9 1 1 1 → 4.4 / 5 − 0.6 = 0.28.


def test_normalized_gini_hand_computed():
    # score order rows 0, 2, 3, 4, 1 → 10, 40, 0, 50, 0: shares .1 .5 .5 1 1 → 3.1 / 5 − 0.6 = 0.02; 0.02 / 0.28
    assert normalized_gini(ACTUAL, [0.5, 0.1, 0.4, 0.3, 0.2]) == pytest.approx(1 / 14)
    assert normalized_gini(ACTUAL, ACTUAL) == pytest.approx(1.0)
    # reversed 0, 0, 10, 40, 50: shares 0 0 .1 .5 1 → 1.6 / 5 − 0.6 = −0.28
    assert normalized_gini(ACTUAL, -ACTUAL) == pytest.approx(-1.0)


def test_normalized_gini_ties_nan_and_degenerate():
    # all scores tied → original order 10, 0, 40, 0, 50: shares .1 .1 .5 .5 1 → 2.2 / 5 − 0.6 = −0.16; / 0.28
    assert normalized_gini(ACTUAL, np.ones(5)) == pytest.approx(-4 / 7)
    # NaN ranks last: rows 2, 3, 4, 1, 0 → 40, 0, 50, 0, 10: shares .4 .4 .9 .9 1 → 3.6 / 5 − 0.6 = 0.12; / 0.28
    assert normalized_gini(ACTUAL, [np.nan, 0.1, 0.4, 0.3, 0.2]) == pytest.approx(3 / 7)
    assert normalized_gini([10.0, np.nan, 40.0, 0.0, 50.0], ACTUAL) == pytest.approx(1.0)  # missing actual is 0
    assert np.isnan(normalized_gini(np.zeros(5), np.arange(5.0)))
    assert np.isnan(normalized_gini(np.full(5, 3.0), np.arange(5.0)))


def test_normalized_gini_matches_the_kaggle_reference():
    def kaggle_gini(actual, pred):
        table = np.c_[actual, pred, np.arange(len(actual))].astype(float)
        table = table[np.lexsort((table[:, 2], -table[:, 1]))]
        return (table[:, 0].cumsum().sum() / table[:, 0].sum() - (len(actual) + 1) / 2) / len(actual)

    rng = np.random.default_rng(3)
    actual = rng.exponential(size=300) * (rng.random(300) < 0.3)
    score = actual + rng.normal(scale=0.5, size=300)
    expected = kaggle_gini(actual, score) / kaggle_gini(actual, actual)
    assert normalized_gini(actual, score) == pytest.approx(expected)


# --- calibration metrics ----------------------------------------------------------------------------------------

CAL_Y = np.array([0, 0, 1, 1, 1])
CAL_P = np.array([0.05, 0.15, 0.15, 0.85, 0.95])


def test_brier_score_hand_computed():
    # (0.1² + 0.2² + 0.4² + 0²) / 4 = 0.21 / 4
    assert brier_score([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.0]) == pytest.approx(0.0525)
    assert brier_score(CAL_Y, CAL_P) == pytest.approx(brier_score_loss(CAL_Y, CAL_P))
    assert brier_score([1, 0], [np.nan, 0.2]) == pytest.approx(0.04)  # rows without a probability left out
    with pytest.raises(ValueError):
        brier_score([1, 0], [1.5, 0.2])


def test_expected_calibration_error_hand_computed():
    # 10 bins: [0, .1): .05 vs 0 → .05 ×1; [.1, .2): .15 vs .5 → .35 ×2; [.8, .9): .15 ×1; [.9, 1]: .05 ×1
    # → (.05 + .70 + .15 + .05) / 5 = .19
    assert expected_calibration_error(CAL_Y, CAL_P) == pytest.approx(0.19)
    # 2 bins: [0, .5): mean .35/3 vs 1/3 → |−.21667| ×3 = .65; [.5, 1]: .9 vs 1 → .1 ×2 = .2 → .85 / 5 = .17
    assert expected_calibration_error(CAL_Y, CAL_P, bins=2) == pytest.approx(0.17)
    assert expected_calibration_error([1, 1, 0], [1.0, 1.0, 0.0]) == 0  # 1.0 falls into the last bin
    assert np.isnan(expected_calibration_error([], []))


def test_reliability_curve_lists_non_empty_bins():
    curve = reliability_curve(CAL_Y, CAL_P)
    assert list(curve.columns) == ["bin_lower", "bin_upper", "mean_predicted", "observed_rate", "count"]
    assert curve["bin_lower"].tolist() == pytest.approx([0.0, 0.1, 0.8, 0.9])
    assert curve["bin_upper"].tolist() == pytest.approx([0.1, 0.2, 0.9, 1.0])
    assert curve["mean_predicted"].tolist() == pytest.approx([0.05, 0.15, 0.85, 0.95])
    assert curve["observed_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert curve["count"].tolist() == [1, 2, 1, 1]


# --- bootstrap --------------------------------------------------------------------------------------------------

def _noisy_ranking(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.1
    return y, rng.normal(size=n) + 1.5 * y


def test_bootstrap_replicates_equal_sklearn_on_the_resampled_rows():
    y, score = _noisy_ranking(300)
    score = np.round(score, 1)  # many ties, as in the RFM baseline
    order = np.argsort(-score, kind="stable")
    group_end = np.flatnonzero(np.r_[score[order][1:] != score[order][:-1], True])
    weights = np.random.default_rng(1).integers(0, 3, size=(4, len(y)))
    replicates = _weighted_average_precision(y[order].astype(float), weights[:, order], group_end)
    for replicate, w in zip(replicates, weights, strict=True):
        assert replicate == pytest.approx(average_precision_score(np.repeat(y, w), np.repeat(score, w)))


def test_bootstrap_is_seeded_paired_and_brackets_the_point_estimate():
    y, score = _noisy_ranking()
    replicates = bootstrap_average_precision(y, score, n_resamples=300, seed=7)
    np.testing.assert_array_equal(replicates, bootstrap_average_precision(y, score, n_resamples=300, seed=7))
    assert not np.array_equal(replicates, bootstrap_average_precision(y, score, n_resamples=300, seed=8))
    lower, upper = percentile_interval(replicates, 0.95)
    assert lower < average_precision_score(y, score) < upper
    narrower = percentile_interval(replicates, 0.5)
    assert lower < narrower[0] < narrower[1] < upper
    # paired: the same rows are drawn for another ranking, so a ranking compared with itself differs by 0
    np.testing.assert_array_equal(replicates, bootstrap_average_precision(y, score * 2 + 1, 300, seed=7))


def test_percentile_interval_known_values():
    replicates = np.r_[np.arange(101.0), np.nan]  # 0, 1, ..., 100 and a resample without a positive
    assert percentile_interval(replicates, 0.9) == pytest.approx((5.0, 95.0))
    assert percentile_interval(replicates, 0.5) == pytest.approx((25.0, 75.0))
    with pytest.raises(ValueError, match="confidence"):
        percentile_interval(replicates, 1.0)


def test_bootstrap_resamples_without_positives_are_nan():
    replicates = bootstrap_average_precision([1, 0, 0, 0, 0], np.arange(5.0), n_resamples=300)
    assert np.isnan(replicates).any() and not np.isnan(replicates).all()
    assert np.nanmax(replicates) <= 1
    assert all(np.isnan(percentile_interval(bootstrap_average_precision([0, 0, 0], [0.1, 0.2, 0.3], 20))))


# --- capacity metrics -------------------------------------------------------------------------------------------

REVENUE = np.array([100.0, 999.0, 50.0, 0, 0, 0, 0, 0, 0, 850.0])  # positives (rows 0, 2, 9) hold 1000


def test_capacity_metrics_counts_and_shares():
    metrics = capacity_metrics(Y, SCORE, REVENUE, (2, 0.3))
    # k = 2: rows 0, 1 → 1 positive; base rate 0.3
    assert metrics["precision_at_2"] == pytest.approx(0.5)
    assert metrics["recall_at_2"] == pytest.approx(1 / 3)
    assert metrics["lift_at_2"] == pytest.approx(0.5 / 0.3)
    assert metrics["revenue_captured_at_2"] == pytest.approx(0.1)
    # 30% of 10 rows = 3: rows 0, 1, 2 → 2 positives holding 150
    assert metrics["precision_at_30pct"] == pytest.approx(2 / 3)
    assert metrics["recall_at_30pct"] == pytest.approx(2 / 3)
    assert metrics["lift_at_30pct"] == pytest.approx((2 / 3) / 0.3)
    assert metrics["revenue_captured_at_30pct"] == pytest.approx(0.15)
    assert len(metrics) == 8


def test_capacity_labels_round_shares_up_and_reject_nonsense():
    metrics = capacity_metrics(Y, SCORE, None, (0.05, 0.025))
    assert set(metrics) == {f"{name}_at_{label}" for name in ("precision", "recall", "lift")
                            for label in ("5pct", "2.5pct")}
    assert metrics["precision_at_5pct"] == 1.0  # ceil(0.05 × 10) = 1 row
    y = np.random.default_rng(0).random(100) < 0.5
    descending = np.arange(100.0)[::-1]
    # 0.07 × 100 is 7.000000000000001 in floating point; still 7 rows, not 8
    assert capacity_metrics(y, descending, None, (0.07,))["precision_at_7pct"] == pytest.approx(y[:7].mean())
    for capacity in (0, 1.0, 1.5, True):
        with pytest.raises(ValueError):
            capacity_metrics(Y, SCORE, None, (capacity,))


# --- segments ---------------------------------------------------------------------------------------------------

def test_segment_metrics_per_segment_and_score():
    frame = pd.DataFrame({
        "industry": ["a"] * 6 + ["c"] * 4 + [None] * 3,
        "y": [1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0],  # a: 2 of 6, c: 4 of 4, unknown: 1 of 3
        "perfect": [0.9, 0.8, 0.3, 0.2, 0.1, 0.0] + [0.5] * 4 + [0.1, 0.2, 0.3],
        "noisy": [0.9, 0.2, 0.8, 0.1, 0.05, 0.01] + [0.5] * 4 + [0.1, 0.2, 0.3],
    })
    result = segment_metrics(frame, "industry", "y", ["perfect", "noisy"], min_rows=4, min_positives=1)
    assert list(result.columns) == [
        "segment", "score_column", "n_rows", "n_positive", "positive_rate", "pr_auc", "roc_auc", "enough_data"
    ]
    assert list(zip(result["segment"], result["score_column"], strict=True)) == [
        ("a", "perfect"), ("a", "noisy"), ("c", "perfect"), ("c", "noisy"), ("unknown", "perfect"),
        ("unknown", "noisy"),
    ]
    rows = result.set_index(["segment", "score_column"])
    assert rows.loc[("a", "perfect"), ["pr_auc", "roc_auc"]].tolist() == [1.0, 1.0]
    # noisy in "a": ranks 1 (pos), 2 (neg), 3 (pos) → AP (1 + 2/3) / 2; ROC 4 + 3 of 2 × 4 pairs
    assert rows.loc[("a", "noisy"), "pr_auc"] == pytest.approx(5 / 6)
    assert rows.loc[("a", "noisy"), "roc_auc"] == pytest.approx(7 / 8)
    assert rows.loc[("a", "noisy"), "positive_rate"] == pytest.approx(2 / 6)
    # "c" has only positives: PR-AUC 1, ROC-AUC undefined
    assert rows.loc[("c", "noisy"), "pr_auc"] == 1.0 and np.isnan(rows.loc[("c", "noisy"), "roc_auc"])
    unknown = rows.loc[("unknown", "perfect")]
    assert not unknown["enough_data"] and unknown["n_rows"] == 3 and unknown["n_positive"] == 1
    assert np.isnan(unknown["pr_auc"]) and np.isnan(unknown["roc_auc"])
    assert result["enough_data"].tolist() == [True] * 4 + [False] * 2


def test_segment_metrics_takes_categorical_segments_with_missing_values():
    frame = pd.DataFrame({
        "region": pd.Categorical(["north", None, "north", None]),
        "y": [1, 0, 0, 1],
        "score": [0.9, 0.1, 0.2, 0.8],
    })
    result = segment_metrics(frame, "region", "y", ["score"], min_rows=1, min_positives=1)
    assert sorted(result["segment"]) == ["north", "unknown"]
    assert result["roc_auc"].tolist() == [1.0, 1.0]


# --- ranking_metrics extensions ---------------------------------------------------------------------------------

def test_ranking_metrics_adds_revenue_only_when_asked():
    plain = ranking_metrics(Y, SCORE, (2,))
    assert not {"normalized_gini", "revenue_captured_at_2"} & set(plain)
    full = ranking_metrics(Y, SCORE, (2,), future_revenue=REVENUE)
    assert {key: full[key] for key in plain} == plain
    assert full["revenue_captured_at_2"] == pytest.approx(0.1)
    assert full["normalized_gini"] == pytest.approx(normalized_gini(REVENUE, SCORE))
