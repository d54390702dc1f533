"""The backtest maths with hand-built inputs: fold cutoffs, segments, comparisons, the interval of the mean."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from models.backtest import (
    MetricSettings,
    SegmentBands,
    comparisons,
    fold_metrics,
    folds_of,
    generate_cutoffs,
    per_fold_table,
    performance_metrics,
    pr_auc_by_cutoff,
    ranking_records,
    scorecard_from,
    segments_of,
    strongest_baseline,
)
from models.rankings import rankings_in

MONTHLY = list(pd.date_range("2022-01-01", "2024-01-01", freq="MS"))
SETTINGS = MetricSettings(k=(50, 100, 500), capacity_shares=(0.01, 0.05), bootstrap_resamples=300, confidence=0.9,
                          calibration_bins=10)


def test_fold_cutoffs_end_at_the_last_one_spaced_as_asked():
    assert generate_cutoffs(MONTHLY, pd.Timestamp("2024-01-01"), 4, 3) == [
        pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01"), pd.Timestamp("2023-10-01"),
        pd.Timestamp("2024-01-01"),
    ]
    with pytest.raises(ValueError, match=r"2021-10-01.*not labelled cutoffs \(first 2022-01-01\)"):
        generate_cutoffs(MONTHLY, pd.Timestamp("2024-01-01"), 10, 3)


def test_segments_band_size_and_tenure_and_name_missing_values():
    test = pd.DataFrame({
        "firm_industry": ["Retail", None, "Retail", "Food", "Food"],
        "firm_region": ["North"] * 5,
        "firm_country": [None] * 5,  # no data: no segment
        "firm_employees": [5.0, 10.0, 49.0, 50.0, np.nan],
        "tenure_days_since_first_order": [100.0, 365.25, 800.0, 1096.0, np.nan],
    })
    segments = segments_of(test, SegmentBands(size_employees=(10, 50), tenure_years=(1, 3)))
    assert list(segments.columns) == ["industry", "region", "size_band", "tenure_band"]
    assert segments["region"].tolist() == ["North"] * 5
    assert segments["industry"].tolist() == ["Retail", "unknown", "Retail", "Food", "Food"]
    assert segments["size_band"].tolist() == [
        "< 10 employees", "10–50 employees", "10–50 employees", "≥ 50 employees", "unknown"]
    assert segments["tenure_band"].tolist() == [
        "< 1 years", "1–3 years", "1–3 years", "≥ 3 years", "unknown"]


def test_the_strongest_baseline_of_a_fold_has_its_best_pr_auc_and_nan_never_wins():
    fold = {"model": {"pr_auc": 0.9}, "spend_rank_baseline": {"pr_auc": 0.3}, "rfm_baseline": {"pr_auc": 0.4},
            "growth_rank_baseline": {"pr_auc": float("nan")}, "oracle": {"pr_auc": 0.95}}
    assert strongest_baseline(fold) == "rfm_baseline"  # neither the model nor the oracle is a baseline
    tie = {"model": {"pr_auc": 0.9}, "spend_rank_90d_baseline": {"pr_auc": 0.4}, "rfm_baseline": {"pr_auc": 0.4}}
    assert strongest_baseline(tie) == "spend_rank_90d_baseline"  # the first in table order
    with pytest.raises(ValueError, match="no baseline"):
        strongest_baseline({"model": {"pr_auc": 0.9}})


def test_comparisons_are_against_each_folds_strongest_baseline_with_a_paired_interval():
    per_fold = [
        {"model": {"pr_auc": 0.6, "precision_at_100": 0.5},
         "spend_rank_baseline": {"pr_auc": 0.3, "precision_at_100": 0.5},
         "rfm_baseline": {"pr_auc": 0.4, "precision_at_100": 0.2}, "oracle": {"pr_auc": 0.8, "precision_at_100": 0.9}},
        {"model": {"pr_auc": 0.6, "precision_at_100": 0.6},
         "spend_rank_baseline": {"pr_auc": 0.5, "precision_at_100": 0.3},
         "rfm_baseline": {"pr_auc": 0.2, "precision_at_100": 0.4}, "oracle": {"pr_auc": 0.7, "precision_at_100": 0.9}},
    ]
    replicates = [  # three bootstrap resamples per fold, paired across the rankings of a fold
        {"model": np.array([0.6, 0.5, 0.7]), "spend_rank_baseline": np.array([0.9, 0.9, 0.9]),
         "rfm_baseline": np.array([0.4, 0.5, 0.35]), "oracle": np.array([0.8, 0.8, 0.8])},
        {"model": np.array([0.6, 0.6, 0.6]), "spend_rank_baseline": np.array([0.5, 0.4, 0.6]),
         "rfm_baseline": np.array([0.9, 0.9, 0.9]), "oracle": np.array([0.7, 0.7, 0.7])},
    ]
    result = comparisons(per_fold, replicates, confidence=0.5)
    assert result["strongest_baselines"] == ["rfm_baseline", "spend_rank_baseline"]
    assert result["pr_auc_ratio_to_strongest_baseline"] == pytest.approx(0.6 / 0.45)
    # replicate b: (model_1b + model_2b) / (rfm_1b + spend_2b); the replicates of the folds' weaker baselines
    # (0.9 each) play no part
    ratios = [(0.6 + 0.6) / (0.4 + 0.5), (0.5 + 0.6) / (0.5 + 0.4), (0.7 + 0.6) / (0.35 + 0.6)]
    assert result["pr_auc_ratio_to_strongest_baseline_ci_low"] == pytest.approx(np.percentile(ratios, 25))
    assert result["pr_auc_ratio_to_strongest_baseline_ci_high"] == pytest.approx(np.percentile(ratios, 75))
    assert result["precision_at_100_strongest_baselines"] == ["spend_rank_baseline", "rfm_baseline"]
    assert result["precision_at_100_ratio_to_strongest_baseline"] == pytest.approx(0.55 / 0.45)
    assert result["pr_auc_ratio_to_spend_rank_baseline"] == pytest.approx(0.6 / 0.4)
    assert result["pr_auc_share_of_oracle"] == pytest.approx(0.6 / 0.75)
    [only_the_last] = [comparisons(per_fold[-1:], replicates[-1:], 0.5)["strongest_baselines"]]
    assert only_the_last == ["spend_rank_baseline"]


def test_a_model_that_ties_a_baseline_has_ratio_one_and_an_interval_of_exactly_one():
    predictions = _predictions()
    predictions["model"] = 1 / (1 + np.exp(-predictions["spend_rank_baseline"]))  # the same ranking, other numbers
    summary = performance_metrics(predictions, "became_key_account", SETTINGS, seed=0).summary.comparisons
    assert summary["pr_auc_ratio_to_strongest_baseline"] == 1.0
    assert summary["pr_auc_ratio_to_strongest_baseline_ci_low"] == 1.0
    assert summary["pr_auc_ratio_to_strongest_baseline_ci_high"] == 1.0


def _predictions() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    folds = []
    for cutoff in ("2023-01-01", "2023-04-01"):
        y = rng.random(800) < 0.1
        model = 1 / (1 + np.exp(-(y + rng.normal(0, 0.8, 800) - 2)))  # a raw probability
        folds.append(pd.DataFrame({
            "cutoff": pd.Timestamp(cutoff), "became_key_account": y, "outcome_spend": rng.gamma(2, 100, 800),
            "model": model, "spend_rank_baseline": y + rng.normal(0, 1.6, 800),
            "model_probability": np.clip(model * 0.8, 0, 1),
        }))
    return pd.concat(folds, ignore_index=True)


def test_backtest_summary_means_spreads_and_intervals_over_folds():
    predictions = _predictions()
    metrics = performance_metrics(predictions, "became_key_account", SETTINGS, seed=0)
    folds = folds_of(predictions)
    per_fold = metrics.per_fold
    assert per_fold == [fold_metrics(fold, "became_key_account", SETTINGS, seed=i)[0] for i, fold in enumerate(folds)]

    pr_aucs = [average_precision_score(f["became_key_account"], f["model"]) for f in folds]
    assert [m["model"]["pr_auc"] for m in per_fold] == pytest.approx(pr_aucs)
    assert metrics.test_cutoffs == ["2023-01-01", "2023-04-01"]
    assert metrics.test.rankings == per_fold[-1]
    assert metrics.test.comparisons["pr_auc_ratio_to_strongest_baseline"] == pytest.approx(
        per_fold[-1]["model"]["pr_auc"] / per_fold[-1]["spend_rank_baseline"]["pr_auc"])
    model = metrics.summary.rankings["model"]
    assert model["pr_auc_mean"] == pytest.approx(np.mean(pr_aucs))
    assert model["pr_auc_std"] == pytest.approx(np.std(pr_aucs, ddof=1))
    for metric in ("roc_auc", "precision_at_100", "brier", "revenue_captured_at_100"):  # every metric's spread
        assert model[f"{metric}_std"] == pytest.approx(np.std([m["model"][metric] for m in per_fold], ddof=1))
    assert model["roc_auc_std"] > 0
    assert model["pr_auc_min"] == pytest.approx(min(pr_aucs))
    assert model["pr_auc_mean_ci_low"] < model["pr_auc_mean"] < model["pr_auc_mean_ci_high"]
    for m in per_fold:
        assert m["model"]["pr_auc_ci_low"] < m["model"]["pr_auc"] < m["model"]["pr_auc_ci_high"]
        assert 0 <= m["model"]["ece"] <= 1 and 0 <= m["model"]["brier"] <= 1
    summary = metrics.summary.comparisons
    assert summary["strongest_baselines"] == ["spend_rank_baseline", "spend_rank_baseline"]  # the only baseline
    assert metrics.summary.rankings["spend_rank_baseline"]["folds_as_strongest_baseline"] == 2
    ratio = model["pr_auc_mean"] / metrics.summary.rankings["spend_rank_baseline"]["pr_auc_mean"]
    assert summary["pr_auc_ratio_to_strongest_baseline"] == pytest.approx(ratio)
    assert summary["pr_auc_ratio_to_strongest_baseline_ci_low"] < ratio < summary[
        "pr_auc_ratio_to_strongest_baseline_ci_high"]
    assert rankings_in(folds[0].assign(rfm_baseline=0.0, oracle=0.0).columns) == [
        "model", "spend_rank_baseline", "rfm_baseline", "oracle"]


def test_tables_of_the_metrics_read_back_as_they_were_written():
    metrics = performance_metrics(_predictions(), "became_key_account", SETTINGS, seed=0)
    assert scorecard_from(ranking_records(metrics.summary), metrics.summary.comparisons) == metrics.summary
    table = per_fold_table(metrics)
    assert table[["test_cutoff", "strongest_baseline", "ranking"]].values.tolist() == [
        ["2023-01-01", "spend_rank_baseline", "model"], ["2023-01-01", "spend_rank_baseline", "spend_rank_baseline"],
        ["2023-04-01", "spend_rank_baseline", "model"], ["2023-04-01", "spend_rank_baseline", "spend_rank_baseline"]]
    wide = pr_auc_by_cutoff(table)
    assert wide["model"].tolist() == [m["model"]["pr_auc"] for m in metrics.per_fold]


def test_a_segment_only_another_fold_has_is_no_segment_of_this_one():
    predictions = _predictions()
    predictions["industry"] = pd.array(["Retail"] * 800 + [pd.NA] * 800, dtype="string")
    first, second = folds_of(predictions)
    assert "industry" in first and "industry" not in second


def test_brier_and_ece_for_the_model_and_the_probability_baseline_on_known_values():
    settings = MetricSettings(k=(1,), capacity_shares=(0.5,), bootstrap_resamples=10, confidence=0.95,
                              calibration_bins=2)
    fold = pd.DataFrame({
        "became_key_account": [True, False, False, True], "outcome_spend": [10.0, 0.0, 0.0, 5.0],
        "model": [0.9, 0.2, 0.4, 0.6], "model_probability": [0.8, 0.1, 0.3, 0.7],
        "spend_rank_baseline": [3.0, 1.0, 2.0, 4.0], "logistic_regression_baseline": [0.6, 0.4, 0.2, 0.8],
    })
    metrics, _ = fold_metrics(fold, "became_key_account", settings, seed=0)
    assert metrics["model"]["brier"] == pytest.approx((0.2**2 + 0.1**2 + 0.3**2 + 0.3**2) / 4)
    assert metrics["model"]["brier_uncalibrated"] == pytest.approx((0.1**2 + 0.2**2 + 0.4**2 + 0.4**2) / 4)
    assert metrics["logistic_regression_baseline"]["brier"] == pytest.approx((0.4**2 + 0.4**2 + 0.2**2 + 0.2**2) / 4)
    # two bins: [0, 0.5) holds 0.4 and 0.2 (no positive), [0.5, 1] holds 0.6 and 0.8 (both positive)
    assert metrics["logistic_regression_baseline"]["ece"] == pytest.approx(0.5 * 0.3 + 0.5 * 0.3)
    assert "brier" not in metrics["spend_rank_baseline"]  # a rank, not a probability
