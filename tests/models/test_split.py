import pandas as pd
import pytest

from models.split import time_split

CUTOFFS = list(pd.date_range("2021-07-01", "2024-01-01", freq="MS"))


def test_default_split_leaves_a_horizon_between_train_validation_and_test():
    split = time_split(CUTOFFS, 12)
    assert split.test == pd.Timestamp("2024-01-01")
    assert split.validation == pd.Timestamp("2023-01-01")
    assert split.train[-1] == pd.Timestamp("2022-01-01")
    assert all(c + pd.DateOffset(months=12) <= split.validation for c in split.train)
    assert split.validation + pd.DateOffset(months=12) <= split.test
    assert split.refit == tuple(pd.date_range("2021-07-01", "2023-01-01", freq="MS"))  # training through validation
    assert all(c + pd.DateOffset(months=12) <= split.test for c in split.refit)


def test_too_little_history_is_explained():
    with pytest.raises(ValueError, match="no training cutoff"):
        time_split(CUTOFFS[-14:], 12)


def test_validation_too_close_to_test_is_refused():
    with pytest.raises(ValueError, match="at least 12 months"):
        time_split(CUTOFFS, 12, validation_cutoff=pd.Timestamp("2023-06-01"))


def test_shorter_validation_gap_for_short_histories_still_protects_the_test():
    cutoffs = list(pd.date_range("2010-06-01", "2011-06-01", freq="MS"))
    split = time_split(cutoffs, 6, validation_gap_months=1)
    assert split.test == pd.Timestamp("2011-06-01")
    assert split.validation == pd.Timestamp("2010-12-01")
    assert split.train == tuple(pd.date_range("2010-06-01", "2010-11-01", freq="MS"))
    assert all(c + pd.DateOffset(months=6) <= split.test for c in (*split.train, split.validation))
