import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.calibration import METHODS, Calibrator, fit_calibrator
from models.metrics import brier_score


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn with probability q, reported as q³: raw probabilities far too low."""
    rng = np.random.default_rng(seed)
    true_probability = rng.uniform(0.01, 0.99, n)
    y = rng.random(n) < true_probability
    return y, true_probability**3


def test_isotonic_transform_equals_sklearn_predict():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.1, 0.9, 500)
    y = rng.random(500) < raw
    calibrator = fit_calibrator(y, raw, "isotonic")
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw, y)
    new = np.concatenate([rng.uniform(0, 1, 1000), [0.0, 1.0]])  # also outside the fitted range
    np.testing.assert_allclose(calibrator.transform(new), reference.predict(new), rtol=0, atol=1e-12)


def test_platt_equals_logistic_regression_on_the_logit():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.02, 0.98, 800)
    y = rng.random(800) < raw**2
    calibrator = fit_calibrator(y, raw, "platt")
    logit = np.log(raw / (1 - raw)).reshape(-1, 1)
    reference = LogisticRegression(C=1e12).fit(logit, y)
    assert calibrator.slope == pytest.approx(reference.coef_[0, 0], rel=1e-4)
    assert calibrator.intercept == pytest.approx(reference.intercept_[0], rel=1e-4)
    np.testing.assert_allclose(calibrator.transform(raw), reference.predict_proba(logit)[:, 1], atol=1e-6)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_lowers_brier_on_held_out_rows(method):
    y_fit, raw_fit = _miscalibrated(10_000, seed=2)
    y_test, raw_test = _miscalibrated(10_000, seed=3)
    calibrator = fit_calibrator(y_fit, raw_fit, method)
    assert brier_score(y_test, calibrator.transform(raw_test)) < brier_score(y_test, raw_test)


@pytest.mark.parametrize("method", METHODS)
def test_transform_is_monotone_non_decreasing(method):
    y, raw = _miscalibrated(2000, seed=4)
    grid = np.linspace(0, 1, 1001)
    assert (np.diff(fit_calibrator(y, raw, method).transform(grid)) >= 0).all()


def test_platt_on_reversed_scores_stays_monotone_at_the_base_rate():
    y, raw = _miscalibrated(2000, seed=5)
    calibrator = fit_calibrator(y, 1 - raw, "platt")
    assert calibrator.slope == 0
    np.testing.assert_allclose(calibrator.transform([0.0, 0.5, 1.0]), y.mean())


def test_none_returns_the_input():
    raw = np.array([0.0, 0.3, 1.0])
    np.testing.assert_array_equal(fit_calibrator([0, 1, 1], raw, "none").transform(raw), raw)


@pytest.mark.parametrize("method", METHODS)
def test_to_dict_round_trips_through_json(method):
    y, raw = _miscalibrated(1000, seed=6)
    calibrator = fit_calibrator(y, raw, method)
    restored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert restored == calibrator
    grid = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(restored.transform(grid), calibrator.transform(grid))


def test_isotonic_steps_are_shrunk_toward_the_base_rate_by_the_pseudo_rows():
    raw = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    y = [0, 0, 0, 0, 1, 0, 1, 1, 1, 1]  # steps: 4 rows at 0, 2 rows at 1/2, 4 rows at 1; base rate 1/2
    at = [0.1, 0.65, 0.99]
    np.testing.assert_allclose(fit_calibrator(y, raw, "isotonic").transform(at), [0.0, 0.5, 1.0])
    shrunk = fit_calibrator(y, raw, "isotonic", isotonic_pseudo_rows=1).transform(at)
    np.testing.assert_allclose(shrunk, [0.5 / 5, 1.5 / 3, 4.5 / 5])


def test_shrinking_pools_a_small_step_that_would_fall_below_a_larger_one():
    # 400 negatives at 0.1; 100 rows at 0.8, 90 positive; one positive at 0.9: steps 0, 0.9 and 1
    raw = np.array([0.1] * 400 + [0.8] * 100 + [0.9])
    y = np.array([0] * 400 + [1] * 90 + [0] * 10 + [1])
    base_rate = 91 / 501
    calibrator = fit_calibrator(y, raw, "isotonic", isotonic_pseudo_rows=1)
    # alone, the one-row step would shrink to (1 + base) / 2 < (90 + base) / 101: the two are pooled
    np.testing.assert_allclose(calibrator.transform([0.8, 0.9]), (91 + 2 * base_rate) / 103)
    assert (np.diff(calibrator.transform(np.linspace(0, 1, 1001))) >= 0).all()
    with pytest.raises(ValueError, match="isotonic_pseudo_rows"):
        fit_calibrator(y, raw, "isotonic", isotonic_pseudo_rows=-1)


def test_fit_rejects_unknown_methods_one_class_and_bad_probabilities():
    with pytest.raises(ValueError, match="isotonic, platt, none"):
        fit_calibrator([0, 1], [0.2, 0.8], "beta")
    with pytest.raises(ValueError, match="both"):
        fit_calibrator([1, 1], [0.2, 0.8], "isotonic")
    with pytest.raises(ValueError):
        fit_calibrator([0, 1], [0.2, np.nan], "platt")
    with pytest.raises(ValueError):
        Calibrator.from_dict({"method": "beta"})
