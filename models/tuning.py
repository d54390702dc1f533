"""A small, seeded Optuna search for the classifier's hyperparameters, scored on the validation cutoffs only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna
import pandas as pd

from models.estimator import LogisticPrior, train_classifier

# name -> (low, high, log scale). Integers are sampled as integers. subsample only takes effect when the base
# hyperparameters set subsample_freq > 0; n_estimators (cut by early stopping) and n_jobs always come from the base.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "learning_rate": (0.01, 0.1, True),
    "num_leaves": (7, 63, True),
    "min_child_samples": (10, 200, True),
    "colsample_bytree": (0.5, 1.0, False),
    "subsample": (0.5, 1.0, False),
    "reg_lambda": (1e-3, 10.0, True),
}


@dataclass(frozen=True)
class TrialResult:
    number: int  # 0-based, in the order the trials ran
    hyperparameters: dict  # the base overridden by this trial's sampled values
    validation_average_precision: float
    best_iteration: int


def _sample(trial: optuna.Trial) -> dict:
    """One point of SEARCH_SPACE."""
    sampled: dict = {}
    for name, (low, high, log) in SEARCH_SPACE.items():
        if isinstance(low, int) and isinstance(high, int):
            sampled[name] = trial.suggest_int(name, low, high, log=log)
        else:
            sampled[name] = trial.suggest_float(name, low, high, log=log)
    return sampled


def search_hyperparameters(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    base_hyperparameters: dict,
    n_trials: int,
    seed: int,
    early_stopping_rounds: int,
    on_trial: Callable[[TrialResult], None] | None = None,
    prior: LogisticPrior | None = None,
) -> tuple[dict, list[TrialResult]]:
    """Maximise validation average precision over SEARCH_SPACE with a TPE sampler seeded by `seed`.

    Trial 0 scores `base_hyperparameters` as they are, so the search never returns a setting that validates
    worse than the configured one; the others sample SEARCH_SPACE. Each trial fits `train_classifier` (early
    stopping on the validation set, boosting from `prior` when given) and is passed to `on_trial` once done.
    Returns the best trial's hyperparameters (the first on ties) and every trial in order; deterministic for the
    same seed and data.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    trials: list[TrialResult] = []

    def objective(trial: optuna.Trial) -> float:
        hyperparameters = {**base_hyperparameters, **({} if trial.number == 0 else _sample(trial))}
        result = train_classifier(X_train, y_train, X_valid, y_valid, hyperparameters, early_stopping_rounds, seed,
                                  prior)
        trial_result = TrialResult(trial.number, hyperparameters, result.validation_average_precision,
                                   result.best_iteration)
        trials.append(trial_result)
        if on_trial is not None:
            on_trial(trial_result)
        return result.validation_average_precision

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    best = max(trials, key=lambda t: t.validation_average_precision)
    return dict(best.hyperparameters), trials
