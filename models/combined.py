"""The combined model scoring uses: LightGBM trees (boosted from an optional logistic prior), their feature spec
and probability calibrator; how it is fitted on a stacked (customer × cutoff) panel and stored as plain files."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightgbm as lgb
import pandas as pd

from models.calibration import Calibrator, fit_calibrator
from models.estimator import LogisticPrior, TrainingResult, predict_probability, refit_classifier, train_classifier
from models.signal import SignalGuard, SignalReport, assess_signal, measure_groups
from models.spec import FeatureSpec
from models.split import TimeSplit

log = logging.getLogger(__name__)

# the parts of a stored model, each one file (also the names of its MLflow artifacts)
BOOSTER_PART, SPEC_PART, CALIBRATOR_PART, PRIOR_PART = "booster", "feature_spec", "calibrator", "prior"


class KeyAccountModel:
    """Takes a feature snapshot frame (as the feature builder returns it), conforms it to the spec and scores it:
    the trees' raw probability ranks, the calibrated probability reads as a rate."""

    def __init__(self, booster: lgb.Booster, spec: FeatureSpec, calibrator: Calibrator,
                 prior: LogisticPrior | None = None):
        self.booster = booster
        self.spec = spec
        self.calibrator = calibrator
        self.prior = prior

    def raw_score(self, features: pd.DataFrame) -> pd.Series:
        """The model's uncalibrated probability: the ranking score (calibration may tie neighbours)."""
        return self.raw_score_conformed(self.spec.conform(features))

    def raw_score_conformed(self, X: pd.DataFrame) -> pd.Series:
        """`raw_score` of input already conformed to the spec (for callers that need the conformed frame too)."""
        return predict_probability(self.booster, X, self.prior)

    def probability(self, raw_score: pd.Series) -> pd.Series:
        """Calibrated probability for raw scores (monotone, so the ranking by raw score is kept)."""
        return pd.Series(self.calibrator.transform(raw_score.to_numpy()), index=raw_score.index, name="probability")

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Calibrated probability of each row of a feature snapshot frame."""
        return self.probability(self.raw_score(features))

    def write_files(self, folder: Path) -> dict[str, str]:
        """Write the trees as LightGBM text and the spec, calibrator and prior as JSON into `folder`; returns
        each part's file by name (what `from_files` reads)."""
        files = {name: folder / f"{name}{'.txt' if name == BOOSTER_PART else '.json'}"
                 for name in (BOOSTER_PART, SPEC_PART, CALIBRATOR_PART, PRIOR_PART)}
        self.booster.save_model(str(files[BOOSTER_PART]))
        prior = None if self.prior is None else self.prior.to_dict()
        for name, data in ((SPEC_PART, self.spec.to_dict()), (CALIBRATOR_PART, self.calibrator.to_dict()),
                           (PRIOR_PART, prior)):
            files[name].write_text(json.dumps(data, indent=2), encoding="utf-8")
        return {name: str(path) for name, path in files.items()}

    @classmethod
    def from_files(cls, files: Mapping[str, str]) -> KeyAccountModel:
        """The model from the files `write_files` wrote (no prior file: a model from before priors, which needs
        none). Nothing is unpickled."""
        prior = _read_json(files[PRIOR_PART]) if PRIOR_PART in files else None
        return cls(lgb.Booster(model_file=files[BOOSTER_PART]), FeatureSpec.from_dict(_read_json(files[SPEC_PART])),
                   Calibrator.from_dict(_read_json(files[CALIBRATOR_PART])),
                   None if prior is None else LogisticPrior.from_dict(prior))


def _read_json(path: str) -> object:
    return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class FitSettings:
    """How the combined model is fitted: its features, LightGBM hyperparameters, prior and calibration."""

    target: str  # the label column of the panel
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    hyperparameters: dict
    early_stopping_rounds: int
    seed: int
    prior_features: tuple[str, ...]  # numeric features of the logistic prior; (): none
    calibration_method: str
    isotonic_pseudo_rows: float
    refit: bool  # after early stopping, refit with its rounds on every cutoff through validation
    signal_guard: SignalGuard | None = None  # drop the measures without a stable signal on validation; None: off
    measure_of: Mapping[str, str] = field(default_factory=dict)  # column -> measure (default: its own name)

    def __post_init__(self) -> None:
        unusable = [c for c in self.prior_features if c not in self.features or c in self.categorical]
        if unusable:
            raise ValueError(f"{unusable} are not numeric features of the model "
                             f"(e.g. {', '.join(c for c in self.features if c.startswith('spend_sum'))})")


@dataclass(frozen=True)
class Design:
    """The feature spec fitted on the rows the final model learns from, and the conformed training and
    validation data of early stopping."""

    spec: FeatureSpec
    X_train: pd.DataFrame
    y_train: pd.Series
    X_valid: pd.DataFrame
    y_valid: pd.Series


def fitting_rows(panel: pd.DataFrame, split: TimeSplit, refit: bool) -> pd.DataFrame:
    """The rows the final model learns from: the training cutoffs, or with `refit` every cutoff through
    validation."""
    return panel[panel["cutoff"].isin(split.refit if refit else split.train)]


def training_design(panel: pd.DataFrame, split: TimeSplit, settings: FitSettings) -> Design:
    """The split's training and validation rows conformed to the spec of the final model's rows (so the spec
    knows every category level the final model sees)."""
    train = panel[panel["cutoff"].isin(split.train)]
    valid = panel[panel["cutoff"] == split.validation]
    spec = FeatureSpec.fit(fitting_rows(panel, split, settings.refit), list(settings.features),
                           list(settings.categorical))
    return Design(spec, spec.conform(train), train[settings.target], spec.conform(valid), valid[settings.target])


def fit_prior(X: pd.DataFrame, y: pd.Series, columns: tuple[str, ...]) -> LogisticPrior | None:
    """The logistic prior on `columns` fitted on these rows; None when there are none."""
    return LogisticPrior.fit(X, y, columns) if columns else None


@dataclass(frozen=True)
class FitReport:
    """How the combined model was fitted: the early stopping of its final columns, and the noise guard's
    verdicts (None when the guard is off; their average precision is the validation PR-AUC of the first fit,
    on every column, which the guard's choice did not flatter)."""

    training: TrainingResult
    signal: SignalReport | None = None


def _without(design: Design, columns: tuple[str, ...]) -> Design:
    spec = design.spec
    spec = FeatureSpec(tuple(c for c in spec.columns if c not in columns),
                       tuple(c for c in spec.categorical if c not in columns),
                       {c: levels for c, levels in spec.categories.items() if c not in columns})
    return replace(design, spec=spec, X_train=design.X_train[list(spec.columns)],
                   X_valid=design.X_valid[list(spec.columns)])


def _early_stopped(design: Design, settings: FitSettings, prior: LogisticPrior | None) -> TrainingResult:
    return train_classifier(design.X_train, design.y_train, design.X_valid, design.y_valid, settings.hyperparameters,
                            settings.early_stopping_rounds, settings.seed, prior)


def _signal_of(result: TrainingResult, design: Design, settings: FitSettings,
               prior: LogisticPrior | None) -> SignalReport:
    """The noise guard's verdicts for the early-stopped trees (and prior) on the validation rows."""
    booster = result.booster
    splits = booster.feature_importance("split", iteration=result.best_iteration)
    read = {c for c, n in zip(design.spec.columns, splits, strict=True) if n > 0} | set(settings.prior_features)
    return assess_signal(lambda X: predict_probability(booster, X, prior).to_numpy(), design.X_valid,
                         design.y_valid, measure_groups(design.spec.columns, settings.measure_of),
                         settings.signal_guard, settings.seed, settings.prior_features, used=read)


def fit_model(panel: pd.DataFrame, split: TimeSplit, settings: FitSettings) -> tuple[KeyAccountModel, FitReport]:
    """LightGBM on the split's training cutoffs, early-stopped and calibrated on its validation cutoff; with
    `settings.signal_guard` the measures whose shuffling does not clearly lower the early-stopped trees'
    validation average precision leave the spec and the trees are early-stopped again without them; with
    `settings.refit` the trees are then refitted with the rounds found on every cutoff through validation (the
    calibrator stays the one fitted on out-of-sample validation scores)."""
    design = training_design(panel, split, settings)
    prior = fit_prior(design.X_train, design.y_train, settings.prior_features)
    result = _early_stopped(design, settings, prior)
    signal = None
    if settings.signal_guard is not None:
        signal = _signal_of(result, design, settings, prior)
        if signal.dropped:
            log.info("left out, no stable signal on validation: %s", ", ".join(m.measure for m in signal.dropped))
            design = _without(design, signal.dropped_columns)
            result = _early_stopped(design, settings, prior)
    calibrator = fit_calibrator(design.y_valid, predict_probability(result.booster, design.X_valid, prior).to_numpy(),
                                settings.calibration_method, settings.isotonic_pseudo_rows)
    booster = result.booster
    if settings.refit:
        rows = fitting_rows(panel, split, refit=True)
        X_rows, y_rows = design.spec.conform(rows), rows[settings.target]
        prior = fit_prior(X_rows, y_rows, settings.prior_features)
        booster = refit_classifier(X_rows, y_rows, settings.hyperparameters, result.best_iteration, settings.seed,
                                   prior)
    return KeyAccountModel(booster, design.spec, calibrator, prior), FitReport(result, signal)
