"""Calibration of raw model probabilities: isotonic regression or Platt scaling, stored as plain numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

METHODS = ("isotonic", "platt", "none")
# Raw probabilities are clipped to [EPSILON, 1 - EPSILON] before the logit, so 0 and 1 stay finite.
EPSILON = 1e-6
# Inverse regularisation strength of the Platt fit: large enough to be an unpenalised fit in practice.
PLATT_C = 1e10


def _logit(probability: np.ndarray) -> np.ndarray:
    p = np.clip(probability, EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; allowed: {', '.join(METHODS)}")


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from raw to calibrated probability.

    isotonic: piecewise-linear through (x_thresholds, y_thresholds), clipped at the ends;
    platt: sigmoid(slope · logit(p) + intercept); none: the identity.
    """

    method: str
    x_thresholds: tuple[float, ...] = ()
    y_thresholds: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def __post_init__(self) -> None:
        _check_method(self.method)
        if self.method == "isotonic" and (not self.x_thresholds or len(self.x_thresholds) != len(self.y_thresholds)):
            raise ValueError("isotonic calibrator needs equally many (and at least one) x and y thresholds")

    def transform(self, raw_probability) -> np.ndarray:
        """Calibrated probabilities, non-decreasing in the raw probability."""
        p = np.asarray(raw_probability, dtype="float64")
        if self.method == "isotonic":
            return np.interp(p, self.x_thresholds, self.y_thresholds)
        if self.method == "platt":
            return 1 / (1 + np.exp(-(self.slope * _logit(p) + self.intercept)))
        return p

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable parameters; Calibrator.from_dict restores an equal calibrator."""
        return {
            "method": self.method,
            "x_thresholds": list(self.x_thresholds),
            "y_thresholds": list(self.y_thresholds),
            "slope": self.slope,
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, parameters: dict[str, Any]) -> Calibrator:
        """The calibrator that to_dict described."""
        return cls(
            method=parameters["method"],
            x_thresholds=tuple(float(x) for x in parameters.get("x_thresholds", ())),
            y_thresholds=tuple(float(y) for y in parameters.get("y_thresholds", ())),
            slope=float(parameters.get("slope", 1.0)),
            intercept=float(parameters.get("intercept", 0.0)),
        )


def fit_calibrator(y_true, raw_probability, method: str, isotonic_pseudo_rows: float = 0.0) -> Calibrator:
    """Fit a calibrator of `method` ("isotonic", "platt" or "none") on held-out labels and raw probabilities.

    Isotonic: each step's rate is shrunk toward the base rate as if the step had `isotonic_pseudo_rows` more
    rows at the base rate, so a step of a few rows that were all positive (or all negative) does not read
    100% (0%); 0 is plain isotonic regression. A Platt fit that would decrease (negative slope) is replaced
    by the constant base rate, so every calibrator is non-decreasing.
    """
    _check_method(method)
    y = np.asarray(y_true, dtype=bool)
    p = np.asarray(raw_probability, dtype="float64")
    if y.shape != p.shape:
        raise ValueError("labels and probabilities must have the same length")
    if not np.isfinite(p).all() or ((p < 0) | (p > 1)).any():
        raise ValueError("raw probabilities must be finite and lie in [0, 1]")
    if y.all() or not y.any():
        raise ValueError("calibration needs both positive and negative labels")
    if isotonic_pseudo_rows < 0:
        raise ValueError(f"isotonic_pseudo_rows must be >= 0, got {isotonic_pseudo_rows}")
    if method == "isotonic":
        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
        steps = _shrunk_steps(isotonic, p, y, isotonic_pseudo_rows)
        return Calibrator(
            method,
            x_thresholds=tuple(float(x) for x in isotonic.X_thresholds_),
            y_thresholds=tuple(float(v) for v in np.interp(isotonic.y_thresholds_, *steps)),
        )
    if method == "platt":
        logistic = LogisticRegression(C=PLATT_C).fit(_logit(p).reshape(-1, 1), y)
        slope, intercept = float(logistic.coef_[0, 0]), float(logistic.intercept_[0])
        if slope < 0:
            base_rate = y.mean()
            slope, intercept = 0.0, float(np.log(base_rate / (1 - base_rate)))
        return Calibrator(method, slope=slope, intercept=intercept)
    return Calibrator(method)


def _shrunk_steps(isotonic: IsotonicRegression, p: np.ndarray, y: np.ndarray,
                  pseudo_rows: float) -> tuple[np.ndarray, np.ndarray]:
    """The fitted steps' rates and the same rates shrunk toward the base rate by `pseudo_rows` rows each."""
    rates, step_of_row = np.unique(isotonic.predict(p), return_inverse=True)
    rows = np.bincount(step_of_row).astype("float64")
    shrunk = (np.bincount(step_of_row, weights=y) + pseudo_rows * y.mean()) / (rows + pseudo_rows)
    # a small step is pulled further than a large neighbour and may overtake it: pool such steps again
    return rates, IsotonicRegression().fit_transform(rates, shrunk, sample_weight=rows + pseudo_rows)
