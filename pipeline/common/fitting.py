"""Params turned into model fitting and backtest calls: hyperparameters, fit settings, the folds' test cutoffs,
a fold's model, metric settings and segment bands (the train and evaluate stages share these)."""

from __future__ import annotations

import logging

import pandas as pd

from features.catalogue import feature_catalogue
from features.labels import TARGET
from models.backtest import FittedFold, MetricSettings, SegmentBands, generate_cutoffs
from models.combined import FitReport, FitSettings, KeyAccountModel, fit_model, fitting_rows
from models.signal import SignalGuard
from models.spec import FeatureSpec
from models.split import TimeSplit
from pipeline.common.adapters import split_of
from pipeline.common.config import Params
from pipeline.common.errors import ConfigError

log = logging.getLogger(__name__)


def backtest_test_cutoffs(params: Params, cutoffs: list[pd.Timestamp], last: pd.Timestamp) -> list[pd.Timestamp]:
    """The folds' test cutoffs: `backtest_folds` cutoffs `backtest_every_months` apart, ending at `last`."""
    cfg = params.evaluate
    try:
        return generate_cutoffs(cutoffs, last, cfg.backtest_folds, cfg.backtest_every_months)
    except ValueError as exc:
        raise ConfigError(f"evaluate: {exc}: lower evaluate.backtest_folds or backtest_every_months") from exc


def hyperparameters_of(params: Params) -> dict:
    """The LightGBM hyperparameters of params.model (without the keys that are not LightGBM's)."""
    values = params.model.model_dump()
    for key in ("early_stopping_rounds", "prior_features", "signal_guard"):
        values.pop(key)
    return values


def signal_guard_of(params: Params) -> SignalGuard | None:
    """The noise guard of params.model.signal_guard; None when it is off."""
    cfg = params.model.signal_guard
    return SignalGuard(cfg.repeats, cfg.z, cfg.min_drop) if cfg.enabled else None


def fit_settings(params: Params, hyperparameters: dict, extra_features: tuple[str, ...] = ()) -> FitSettings:
    """How params fit the combined model: the catalogue's features of the configured families plus
    `extra_features` (numeric panel columns, for trying candidate features before they join the library; the
    noise guard tests each as a measure of its own)."""
    catalogue = feature_catalogue(params.features.windows_days, params.features.families)
    try:
        return FitSettings(
            target=TARGET,
            features=tuple(f.name for f in catalogue) + tuple(extra_features),
            categorical=tuple(f.name for f in catalogue if f.kind == "categorical"),
            hyperparameters=hyperparameters,
            early_stopping_rounds=params.model.early_stopping_rounds,
            seed=params.seed,
            prior_features=tuple(params.model.prior_features),
            calibration_method=params.calibration.method,
            isotonic_pseudo_rows=params.calibration.isotonic_pseudo_rows,
            refit=params.split.refit,
            signal_guard=signal_guard_of(params),
            measure_of={f.name: f.measure for f in catalogue},
        )
    except ValueError as exc:
        raise ConfigError(f"params: model.prior_features {exc}") from exc


def fitting_rows_for(params: Params, panel: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    """The rows the final model learns from under params.split.refit."""
    return fitting_rows(panel, split, params.split.refit)


def fit_model_for(params: Params, panel: pd.DataFrame, split: TimeSplit, hyperparameters: dict,
                  extra_features: tuple[str, ...] = ()) -> tuple[KeyAccountModel, FitReport]:
    """The combined model fitted on the split as params configure it (models.combined.fit_model)."""
    settings = fit_settings(params, hyperparameters, extra_features)
    log.info("training on %s rows (%s cutoffs), validating on %s rows", panel["cutoff"].isin(split.train).sum(),
             len(split.train), (panel["cutoff"] == split.validation).sum())
    return fit_model(panel, split, settings)


def fitted_fold_for(params: Params, panel: pd.DataFrame, test_cutoff: pd.Timestamp, hyperparameters: dict,
                    trained: KeyAccountModel | None = None) -> FittedFold:
    """A backtest fold's model, `trained` when given (the last fold), else fitted on the split of the fold's
    own test cutoff; with the rows it learns from and the spec of every configured feature on them."""
    split = split_of(params, panel, test_cutoff)
    model = trained or fit_model_for(params, panel, split, hyperparameters)[0]
    rows = fitting_rows_for(params, panel, split)
    settings = fit_settings(params, hyperparameters)
    return FittedFold(model, rows, FeatureSpec.fit(rows, list(settings.features), list(settings.categorical)))


def metric_settings(params: Params) -> MetricSettings:
    """The evaluation metrics as params.evaluate configures them."""
    cfg = params.evaluate
    return MetricSettings(cfg.k, cfg.capacity_shares, cfg.bootstrap_resamples, cfg.confidence, cfg.calibration_bins)


def segment_bands(params: Params) -> SegmentBands:
    """The segment bounds of params.evaluate."""
    return SegmentBands(params.evaluate.size_band_employees, params.evaluate.tenure_band_years)
