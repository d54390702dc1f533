import numpy as np
import pandas as pd

from models.estimator import predict_probability, refit_classifier, train_classifier

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
