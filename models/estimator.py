"""The LightGBM classifier that ranks eligible customers by their chance to become key accounts."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import pandas as pd


@dataclass(frozen=True)
class TrainingResult:
    booster: lgb.Booster  # the fitted trees, cut at the best iteration when predicting
    best_iteration: int
    validation_average_precision: float


def train_classifier(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    hyperparameters: dict,
    early_stopping_rounds: int,
    seed: int,
) -> TrainingResult:
    """Fit LightGBM with early stopping on the validation cutoff's average precision; deterministic for a seed."""
    model = _classifier(hyperparameters, seed)
    model.fit(
        X_train,
        y_train.astype(int),
        eval_X=(X_valid,),
        eval_y=(y_valid.astype(int),),
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )
    best = model.best_iteration_ or model.n_estimators
    return TrainingResult(model.booster_, int(best), float(model.best_score_["valid_0"]["average_precision"]))


def refit_classifier(X: pd.DataFrame, y: pd.Series, hyperparameters: dict, n_rounds: int, seed: int) -> lgb.Booster:
    """Fit LightGBM for exactly `n_rounds` (the best iteration early stopping found) on more rows."""
    model = _classifier(hyperparameters | {"n_estimators": n_rounds}, seed)
    model.fit(X, y.astype(int))
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


def predict_probability(booster: lgb.Booster, X: pd.DataFrame) -> pd.Series:
    """Probability of becoming a key account within the horizon, aligned with X's index."""
    return pd.Series(booster.predict(X), index=X.index, name="probability")
