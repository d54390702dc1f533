import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import average_precision_score

from models.estimator import LogisticPrior, predict_probability, refit_classifier, train_classifier

HYPERPARAMETERS = {"n_estimators": 300, "num_leaves": 4, "learning_rate": 0.1, "n_jobs": 1}


def _data(seed: int, n: int = 800) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"spend": rng.gamma(2, 100, n), "noise": rng.normal(size=n)})
    return X, pd.Series(rng.random(n) < X["spend"] / X["spend"].max())


def test_refit_grows_exactly_the_early_stopped_rounds_deterministically():
    X, y = _data(0)
    X_valid, y_valid = _data(1)
    early = train_classifier(X, y, X_valid, y_valid, HYPERPARAMETERS, 10, seed=3)
    assert early.best_iteration < HYPERPARAMETERS["n_estimators"]
    more_X, more_y = pd.concat([X, X_valid], ignore_index=True), pd.concat([y, y_valid], ignore_index=True)
    refitted = refit_classifier(more_X, more_y, HYPERPARAMETERS, early.best_iteration, seed=3)
    assert refitted.num_trees() == early.best_iteration
    again = refit_classifier(more_X, more_y, HYPERPARAMETERS, early.best_iteration, seed=3)
    pd.testing.assert_series_equal(predict_probability(refitted, X), predict_probability(again, X))
    assert not np.allclose(predict_probability(refitted, X), predict_probability(early.booster, X))


def _spend_and_flag(seed: int, n: int, flag_effect: float = 2.0) -> tuple[pd.DataFrame, pd.Series]:
    """Label log-odds 1.5 log(1 + spend) - 12, plus `flag_effect` for flagged rows (a signal a spend prior
    cannot see)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"spend": rng.gamma(1.0, 2000.0, n), "flag": (rng.random(n) < 0.3).astype("float64")})
    log_odds = 1.5 * np.log1p(X["spend"]) - 12 + flag_effect * X["flag"]
    return X, pd.Series(rng.random(n) < expit(log_odds))


def test_logistic_prior_recovers_known_weights_and_splits_its_log_odds_exactly():
    X, y = _spend_and_flag(5, 40_000, flag_effect=0.0)
    prior = LogisticPrior.fit(X, y, ("spend",))
    assert prior.coefficients[0] == pytest.approx(1.5, abs=0.1)
    assert prior.intercept == pytest.approx(-12, abs=0.8)
    np.testing.assert_allclose(prior.contributions(X).sum(axis=1) + prior.reference_log_odds(), prior.log_odds(X))
    assert LogisticPrior.from_dict(json.loads(json.dumps(prior.to_dict()))) == prior
    # no orders (missing) and net refunds (negative) both count as zero spend
    np.testing.assert_allclose(prior.log_odds(pd.DataFrame({"spend": [np.nan, -50.0, 0.0]})), prior.intercept)


def test_trees_boosted_from_a_prior_learn_what_it_misses():
    X, y = _spend_and_flag(7, 6_000)
    X_valid, y_valid = _spend_and_flag(8, 3_000)
    prior = LogisticPrior.fit(X, y, ("spend",))
    result = train_classifier(X, y, X_valid, y_valid, HYPERPARAMETERS, 10, seed=3, prior=prior)
    booster = result.booster
    combined = predict_probability(booster, X_valid, prior)
    np.testing.assert_allclose(combined, expit(booster.predict(X_valid, raw_score=True) + prior.log_odds(X_valid)))
    gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    assert gain["flag"] > gain["spend"]  # the prior already carries spend
    assert average_precision_score(y_valid, combined) > average_precision_score(y_valid, prior.log_odds(X_valid))
    refitted = refit_classifier(X, y, HYPERPARAMETERS, result.best_iteration, seed=3, prior=prior)
    again = refit_classifier(X, y, HYPERPARAMETERS, result.best_iteration, seed=3, prior=prior)
    pd.testing.assert_series_equal(predict_probability(refitted, X, prior), predict_probability(again, X, prior))
