import numpy as np
import optuna
import pandas as pd
import pytest

from models.tuning import SEARCH_SPACE, TrialResult, search_hyperparameters

BASE = {"n_estimators": 30, "n_jobs": 1, "subsample_freq": 1, "learning_rate": 0.5, "num_leaves": 3}


def learnable(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A signal column that drives the label through noise, plus a pure-noise column."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})
    return X, pd.Series(X["signal"] + 0.7 * rng.normal(size=n) > 1.0)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    return *learnable(400, 0), *learnable(200, 1)


def search(data, seed: int = 7, n_trials: int = 3, on_trial=None) -> tuple[dict, list[TrialResult]]:
    return search_hyperparameters(*data, BASE, n_trials=n_trials, seed=seed, early_stopping_rounds=5,
                                  on_trial=on_trial)


def test_same_seed_gives_identical_trials_and_restores_optuna_verbosity(data):
    optuna.logging.set_verbosity(optuna.logging.INFO)
    first = search(data)
    assert optuna.logging.get_verbosity() == optuna.logging.INFO
    assert search(data) == first
    assert search(data, seed=8)[1][1].hyperparameters != first[1][1].hyperparameters


def test_best_is_the_trial_with_the_highest_validation_average_precision(data):
    best, trials = search(data)
    top = max(trials, key=lambda t: t.validation_average_precision)
    assert best == top.hyperparameters
    assert all(0 < t.validation_average_precision <= 1 and 1 <= t.best_iteration <= 30 for t in trials)


def test_on_trial_sees_every_trial_in_order(data):
    seen: list[TrialResult] = []
    _, trials = search(data, on_trial=seen.append)
    assert seen == trials
    assert [t.number for t in seen] == [0, 1, 2]


def test_the_first_trial_scores_the_base_as_it_is(data):
    _, trials = search(data)
    assert trials[0].hyperparameters == BASE  # learning_rate 0.5 lies outside the space: taken as it is
    assert trials[1].hyperparameters != BASE


def test_sampled_values_override_the_base_within_the_space_and_keep_the_rest(data):
    _, trials = search(data)
    for trial in trials[1:]:
        assert trial.hyperparameters.keys() == BASE.keys() | SEARCH_SPACE.keys()
        assert {k: trial.hyperparameters[k] for k in ("n_estimators", "n_jobs", "subsample_freq")} == {
            "n_estimators": 30, "n_jobs": 1, "subsample_freq": 1}
        for name, (low, high, _) in SEARCH_SPACE.items():
            value = trial.hyperparameters[name]
            assert low <= value <= high
            assert isinstance(value, int) == isinstance(low, int)


def test_rejects_fewer_than_one_trial(data):
    with pytest.raises(ValueError, match="n_trials"):
        search(data, n_trials=0)
