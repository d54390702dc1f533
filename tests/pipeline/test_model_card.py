import re

import pandas as pd

from features.catalogue import feature_catalogue
from models.backtest import Scorecard
from pipeline.common.config import params_from_dict
from pipeline.model_card import (
    PRIOR_ONLY_ROUNDS,
    _known_limits,
    _plain_words,
    _prior_lines,
    _segments_table,
    _strongest_lines,
    _training_lines,
)
from tests.conftest import small_params


def _scorecards(ece: float, ece_uncalibrated: float) -> tuple[Scorecard, Scorecard]:
    backtest = {"pr_auc_ratio_to_strongest_baseline": 1.2, "pr_auc_ratio_to_strongest_baseline_ci_low": 1.1,
                "strongest_baselines": ["spend_rank_baseline"]}
    model = {"n_positive": 241, "positive_rate": 0.1303, "ece": ece, "ece_uncalibrated": ece_uncalibrated}
    return Scorecard({"model": model}, {}), Scorecard({}, backtest)


SUMMARY = {"validation_cutoff": "2010-12-01", "refit_cutoffs": ["2010-06-01"], "validation_positive_rate": 0.0613}


def test_calibration_worse_than_raw_is_stated_with_both_base_rates():
    limits = _known_limits(params_from_dict(small_params()), *_scorecards(0.0973, 0.0216), SUMMARY)
    stated = [limit for limit in limits if limit.startswith("On the test cutoff the calibrated probabilities")]
    assert stated == [
        "On the test cutoff the calibrated probabilities are further off than the raw scores (expected calibration "
        "error 0.097 against 0.022): 6.1% of the eligible customers became key accounts after the validation "
        "cutoff, 13.0% after the test cutoff. Read them as a ranking, not as rates, until the calibration has seen "
        "a similar period."]


def test_calibration_that_helps_adds_no_such_limit():
    limits = _known_limits(params_from_dict(small_params()), *_scorecards(0.003, 0.020), SUMMARY)
    assert not any("further off than the raw scores" in limit for limit in limits)
    assert not any("clearly better" in limit for limit in limits)  # ratio interval above 1


def test_prior_is_described_with_its_weights():
    assert _prior_lines(None) == []
    [line] = _prior_lines({"columns": ["spend_sum_180d", "spend_sum_365d"], "coefficients": [0.29, 0.9],
                           "intercept": -9.36, "reference": [5.0, 6.0]})
    assert "log-odds -9.36 plus weights on log(1 + x) of spend_sum_180d (+0.29), spend_sum_365d (+0.90)" in line


def test_plain_words_count_the_key_accounts_each_ranking_reaches_per_capacity():
    params = params_from_dict(small_params(evaluate={"k": [10, 50]}, labels={"horizon_months": 6}))
    test = Scorecard({
        "model": {"n_positive": 40, "n_rows": 900, "recall_at_10": 0.2, "recall_at_50": 0.55},
        "spend_rank_baseline": {"recall_at_10": 0.05, "recall_at_50": 0.3},
        "rfm_baseline": {"recall_at_10": 0.1, "recall_at_50": 0.35},
        "spend_rank_90d_baseline": {"recall_at_10": 0.15, "recall_at_50": 0.3},
    }, {"strongest_baselines": ["rfm_baseline"], "precision_at_10_strongest_baselines": ["spend_rank_90d_baseline"],
        "precision_at_50_strongest_baselines": ["rfm_baseline"]})
    lines = _plain_words(params, test, "2011-06-01")
    assert lines[0] == (
        "On the test cutoff 2011-06-01, 40 of the 900 eligible customers became key accounts within 6 months. "
        "A team calling the model's top 50 would have reached 22 of them; ranking by spend over the last 365 days, "
        "as without the model, 12; the strongest simple rule at that capacity (rfm_baseline: ranking by RFM score, "
        "the sum of recency, frequency and spend quintiles), 14.")
    assert lines[-2:] == ["| 10 | 8 | 2 | 6 | `spend_rank_90d_baseline` | 20% |",
                          "| 50 | 22 | 12 | 14 | `rfm_baseline` | 55% |"]


def test_the_headline_comparison_names_the_strongest_baseline_of_the_test_cutoff_and_of_each_fold():
    ratio = {"pr_auc_ratio_to_strongest_baseline": 1.234, "pr_auc_ratio_to_strongest_baseline_ci_low": 1.05,
             "pr_auc_ratio_to_strongest_baseline_ci_high": 1.41}
    test = Scorecard({}, ratio | {"strongest_baselines": ["spend_rank_90d_baseline"]})
    backtest = Scorecard({}, ratio | {"strongest_baselines": ["rfm_baseline", "spend_rank_90d_baseline"]})
    [line] = _strongest_lines(test, backtest, 0.95)
    assert line == (
        "Strongest simple baseline on the test cutoff (the best PR-AUC among the baselines there): "
        "`spend_rank_90d_baseline` (ranking by spend over the last 90 days); the model's PR-AUC ratio to it 1.23 "
        "[95% paired interval 1.05, 1.41]. Over the backtest, against each fold's strongest baseline "
        "(`rfm_baseline`, `spend_rank_90d_baseline`), the ratio of mean PR-AUC is 1.23 [95% paired interval 1.05, "
        "1.41].")


def test_a_model_not_clearly_better_than_the_strongest_baselines_is_a_known_limit():
    test, _ = _scorecards(0.003, 0.020)
    tied = Scorecard({}, {"pr_auc_ratio_to_strongest_baseline": 1.0, "pr_auc_ratio_to_strongest_baseline_ci_low": 1.0,
                          "strongest_baselines": ["rfm_baseline", "rfm_baseline", "spend_rank_90d_baseline"]})
    limits = _known_limits(params_from_dict(small_params()), test, tied, SUMMARY)
    assert limits[0] == (
        "Over the backtest the model is not clearly better than the strongest simple baseline of each fold "
        "(`rfm_baseline`, `spend_rank_90d_baseline`): mean PR-AUC ratio 1.00, interval down to 1.00. Treat its "
        "list as a second opinion next to that baseline's.")


def test_segment_values_from_the_data_are_escaped_in_the_card():
    segments = pd.DataFrame({
        "segment": ["industry"] * 2, "segment_value": ["Retail | Wholesale\n<script>x</script>"] * 2,
        "ranking": ["model", "spend_rank_baseline"], "n_rows": [1200, 1200], "n_positive": [30, 30],
        "pr_auc": [0.5, 0.25], "enough_data": True})
    header, _, row = _segments_table(segments)
    assert row == "| industry | Retail \\| Wholesale &lt;script&gt;x&lt;/script&gt; | 1,200 | 30 | 0.500 | 0.250 |"
    assert len(re.findall(r"(?<!\\)\|", row)) == header.count("|")  # still six cells


def test_segments_too_small_to_measure_are_counted_not_listed():
    segments = pd.DataFrame({
        "segment": ["country"] * 6, "segment_value": ["UK", "UK", "France", "France", "Malta", "Malta"],
        "ranking": ["model", "spend_rank_baseline"] * 3, "n_rows": [1700, 1700, 33, 33, 4, 4],
        "n_positive": [227, 227, 3, 3, 0, 0], "pr_auc": [0.43, 0.42, None, None, None, None],
        "enough_data": [True, True, False, False, False, False]})
    lines = _segments_table(segments)
    assert lines[2] == "| country | UK | 1,700 | 227 | 0.430 | 0.420 |" and len(lines) == 5
    assert lines[4] == ("2 segment(s) with fewer than 50 rows or 5 positives are not measured (country; listed in "
                        "`segment_metrics.csv`).")


CATALOGUE = {f.name: f for f in feature_catalogue((30, 90, 365))}
PRIOR = {"columns": ["spend_sum_365d"], "coefficients": [0.9], "intercept": -9.0, "reference": [6.0]}


def _guard(*measures: tuple[str, list[str], bool]) -> dict:
    return {"validation_average_precision_all_features": 0.3, "dropped": [m for m, _, kept in measures if not kept],
            "measures": [{"measure": m, "columns": columns, "mean_drop": 0.0123 if kept else -0.00012,
                          "sd_drop": 0.0009, "lower_bound": 0.01 if kept else -0.002, "kept": kept,
                          "protected": False} for m, columns, kept in measures]}


def test_a_model_that_stopped_within_a_handful_of_rounds_is_called_its_prior():
    [line] = _training_lines({"best_iteration": 2, "prior": PRIOR}, CATALOGUE)
    assert line == ("- The model is its prior: early stopping chose 2 rounds, so the trees add almost nothing to "
                    "the logistic prior on spend in last 365 days.")
    [line] = _training_lines({"best_iteration": PRIOR_ONLY_ROUNDS, "prior": None}, CATALOGUE)
    assert line.endswith(f"chose {PRIOR_ONLY_ROUNDS} rounds, so the trees add almost nothing to the base rate.")
    assert _training_lines({"best_iteration": 240, "prior": PRIOR}, CATALOGUE) == []
    assert _training_lines({"best_iteration": PRIOR_ONLY_ROUNDS + 1, "prior": None}, CATALOGUE) == []


def test_measures_the_guard_left_out_are_named_in_plain_words():
    guard = _guard(("spend_sum", ["spend_sum_30d", "spend_sum_90d", "spend_sum_365d"], True),
                   ("firm_age_years", ["firm_age_years"], False), ("firm_country", ["firm_country"], False),
                   ("orders_count", ["orders_count_30d", "orders_count_90d"], False))
    [line] = _training_lines({"best_iteration": 240, "prior": PRIOR, "signal_guard": guard}, CATALOGUE)
    assert line == (
        "- Left out, no stable signal on validation (`model.signal_guard`): company age, country, orders in last 30 "
        "days (and 1 more window). 1 of 4 feature measures stay (each measure's drop in validation PR-AUC when "
        "shuffled: `training.json`).")
    kept = _guard(("spend_sum", ["spend_sum_365d"], True))
    assert "none was left out" in _training_lines({"best_iteration": 240, "signal_guard": kept}, CATALOGUE)[0]
    untested = _training_lines({"best_iteration": 240, "signal_guard": _guard()}, CATALOGUE)
    assert "could not test the features" in untested[0]
    assert _training_lines({"best_iteration": 240, "signal_guard": None}, CATALOGUE) == []
