import pandas as pd
import pytest

from pipeline.common.adapters import population_settings, refuse_other_population
from pipeline.common.config import params_from_dict
from pipeline.common.errors import ConfigError, DataError
from pipeline.score import as_of_date, eligible_spine
from tests.conftest import small_params, transactions_frame

# the newest transaction is from 2023-07-01
HISTORY = transactions_frame([("A", "I1", "2023-06-01 10:00", "Tools", 100.0, 10),
                              ("B", "I2", "2023-07-01 17:30", "Paint", 50.0, 20)])


def params_with(**score):
    return params_from_dict(small_params(score=score))


def test_no_limit_accepts_any_age():
    assert as_of_date(params_with(max_data_age_days=None), HISTORY, pd.Timestamp("2030-01-01")) == pd.Timestamp(
        "2023-07-02")  # the day after the last transaction


def test_data_older_than_the_limit_before_today_is_refused_naming_the_dates():
    with pytest.raises(DataError, match=r"transactions.parquet.*timestamp.*2023-07-01, 10 days before 2023-07-11.*"
                                        r"score.max_data_age_days \(9\)"):
        as_of_date(params_with(max_data_age_days=9), HISTORY, pd.Timestamp("2023-07-11 08:15"))
    as_of_date(params_with(max_data_age_days=10), HISTORY, pd.Timestamp("2023-07-11 08:15"))


def test_an_explicit_as_of_date_is_the_reference_not_today():
    today = pd.Timestamp("2030-01-01")
    assert as_of_date(params_with(as_of="2023-08-01", max_data_age_days=31), HISTORY, today) == pd.Timestamp(
        "2023-08-01")
    with pytest.raises(DataError, match="31 days before 2023-08-01"):
        as_of_date(params_with(as_of="2023-08-01", max_data_age_days=30), HISTORY, today)


def test_a_negative_limit_is_a_config_error():
    with pytest.raises(ConfigError, match=r"score.max_data_age_days must be >= 0 or null, got -1"):
        params_with(max_data_age_days=-1)


def test_an_as_of_date_before_the_data_is_refused_naming_the_span_before_its_age():
    for max_age in (None, 0):
        with pytest.raises(DataError, match=r"score.as_of 2023-06-01 is not after the data, which spans 2023-06-01 "
                                            r"to 2023-07-01"):
            as_of_date(params_with(as_of="2023-06-01", max_data_age_days=max_age), HISTORY, pd.Timestamp("2030-01-01"))
    assert as_of_date(params_with(as_of="2023-06-02"), HISTORY, pd.Timestamp("2030-01-01")) == pd.Timestamp(
        "2023-06-02")


def test_the_scored_rows_are_the_eligible_customers_at_the_as_of_date():
    params = params_with()
    history = transactions_frame([("A", "I1", "2023-06-01", "Tools", 1000.0, 10),  # 95% of revenue: key account
                                  ("B", "I2", "2023-07-01", "Paint", 50.0, 20),
                                  ("C", "I3", "2021-07-01", "Paint", 5.0, 20)])  # bought 2 years before: inactive
    spine = eligible_spine(params, history, pd.Timestamp("2023-07-02"))
    assert spine.to_dict("list") == {"customer_id": ["B"], "cutoff": [pd.Timestamp("2023-07-02")]}
    with pytest.raises(DataError, match=r"no customer is eligible on 2024-08-01 \(none bought in the 12 months "
                                        r"before it, or all are key accounts already\)"):
        eligible_spine(params, history, pd.Timestamp("2024-08-01"))


def test_a_population_changed_after_training_is_refused_naming_both_values():
    trained = population_settings(params_with())
    refuse_other_population(params_with(), trained, "model version 3")
    changed = params_from_dict(small_params(labels={"active_months": 6}))
    with pytest.raises(ConfigError, match=r"labels.active_months is 6 but model version 3 was trained with 12"):
        refuse_other_population(changed, trained, "model version 3")
    refuse_other_population(changed, {"seed": "42"}, "an older model")  # logged without them: nothing to compare


def test_the_key_account_rule_is_logged_as_models_trained_before_logged_it():
    settings = population_settings(params_from_dict(small_params(labels={"key_account": {"absolute_amount": 5}})))
    assert {key: value for key, value in settings.items() if key.startswith("labels.key_account.")} == {
        "labels.key_account.rule": "revenue_share", "labels.key_account.revenue_share": "0.8",
        "labels.key_account.top_share": "0.2", "labels.key_account.absolute_amount": "5.0",
        "labels.key_account.trailing_months": "12"}
