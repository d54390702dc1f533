"""The LightGBM classifier that ranks eligible customers by their chance to become key accounts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class LogisticPrior:
    """The log-odds the trees start from instead of the base rate: a logistic regression on log(1 + x) of a
    few non-negative features (trailing spend, say). On small, noisy histories the trees then learn
    corrections to a strong simple ranking rather than rediscovering it."""

    columns: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    reference: tuple[float, ...]  # mean log(1 + x) of the rows it was fitted on: where its SHAP values are zero

    @classmethod
    def fit(cls, X: pd.DataFrame, y: pd.Series, columns: tuple[str, ...]) -> LogisticPrior:
        """Fit on the training rows (L2-regularised, deterministic)."""
        transformed = cls._transform(X, columns)
        regression = LogisticRegression(max_iter=1000).fit(transformed, y.astype(int))
        return cls(tuple(columns), tuple(float(c) for c in regression.coef_[0]), float(regression.intercept_[0]),
                   tuple(float(m) for m in transformed.mean(axis=0)))

    @staticmethod
    def _transform(X: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
        values = X[list(columns)].to_numpy(dtype="float64")
        return np.log1p(np.nan_to_num(values, nan=0.0).clip(min=0.0))  # no orders: 0; net refunds: 0

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        return self._transform(X, self.columns) @ np.asarray(self.coefficients) + self.intercept

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Each column's share of the log-odds relative to the reference (its exact SHAP values)."""
        return (self._transform(X, self.columns) - np.asarray(self.reference)) * np.asarray(self.coefficients)

    def reference_log_odds(self) -> float:
        return float(np.dot(self.reference, self.coefficients) + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticPrior:
        return cls(tuple(data["columns"]), tuple(data["coefficients"]), float(data["intercept"]),
                   tuple(data["reference"]))


@dataclass(frozen=True)
class TrainingResult:
    booster: lgb.Booster  # the fitted trees, cut at the best iteration when predicting
    best_iteration: int
    validation_average_precision: float


def _init_score(prior: LogisticPrior | None, X: pd.DataFrame) -> np.ndarray | None:
    return None if prior is None else prior.log_odds(X)


def train_classifier(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    hyperparameters: dict,
    early_stopping_rounds: int,
    seed: int,
    prior: LogisticPrior | None = None,
) -> TrainingResult:
    """Fit LightGBM with early stopping on the validation cutoff's average precision; deterministic for a seed.
    With a `prior` the trees boost from its log-odds on both sets."""
    model = _classifier(hyperparameters, seed)
    valid_init = _init_score(prior, X_valid)
    model.fit(
        X_train,
        y_train.astype(int),
        init_score=_init_score(prior, X_train),
        eval_X=(X_valid,),
        eval_y=(y_valid.astype(int),),
        eval_init_score=None if valid_init is None else [valid_init],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )
    best = model.best_iteration_ or model.n_estimators
    return TrainingResult(model.booster_, int(best), float(model.best_score_["valid_0"]["average_precision"]))


def refit_classifier(X: pd.DataFrame, y: pd.Series, hyperparameters: dict, n_rounds: int, seed: int,
                     prior: LogisticPrior | None = None) -> lgb.Booster:
    """Fit LightGBM for exactly `n_rounds` (the best iteration early stopping found) on more rows, boosting
    from `prior`'s log-odds when given."""
    model = _classifier(hyperparameters | {"n_estimators": n_rounds}, seed)
    model.fit(X, y.astype(int), init_score=_init_score(prior, X))
    return model.booster_


def _classifier(hyperparameters: dict, seed: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        objective="binary",
        metric="average_precision",  # early stopping watches the ranking quality sales cares about
        random_state=seed,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
        **hyperparameters,
    )


def predict_probability(booster: lgb.Booster, X: pd.DataFrame, prior: LogisticPrior | None = None) -> pd.Series:
    """Probability of becoming a key account within the horizon (the trees' log-odds on top of the prior's,
    when the trees were boosted from one), aligned with X's index."""
    probability = (booster.predict(X) if prior is None
                   else expit(booster.predict(X, raw_score=True) + prior.log_odds(X)))
    return pd.Series(probability, index=X.index, name="probability")
