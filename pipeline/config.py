"""Typed view of params.yaml: the single source of every knob and path.

Loading is explicit (`load_params`); nothing is read at import time. Unknown or missing keys raise
`ConfigError`, so a typo in params.yaml fails loudly instead of silently using a default.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from pipeline.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    source: Literal["demo"]
    raw_dir: Path
    validated_dir: Path
    features_dir: Path
    labels_dir: Path
    model_dir: Path
    metrics_file: Path
    pr_curve_file: Path
    gains_file: Path
    evaluation_dir: Path
    explain_dir: Path
    registry_file: Path
    scores_dir: Path


@dataclass(frozen=True)
class DemoConfig:
    n_customers: int = 20000
    start_date: str = "2020-01-01"
    years: int = 5
    n_categories: int = 24
    n_products: int = 1500
    n_account_owners: int = 25

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.start_date)

    @property
    def end(self) -> pd.Timestamp:
        """Exclusive end of the simulated period."""
        return self.start + pd.DateOffset(years=self.years)


@dataclass(frozen=True)
class KeyAccountConfig:
    rule: Literal["revenue_share", "top_share", "absolute"] = "revenue_share"
    revenue_share: float = 0.8
    top_share: float = 0.2
    absolute_amount: float = 100000.0
    trailing_months: int = 12


@dataclass(frozen=True)
class LabelsConfig:
    horizon_months: int = 12
    active_months: int = 12
    key_account: KeyAccountConfig = field(default_factory=KeyAccountConfig)


@dataclass(frozen=True)
class FeaturesConfig:
    first_cutoff: str | None = None
    cutoff_every_months: int = 1
    windows_days: tuple[int, ...] = (90, 180, 365)


@dataclass(frozen=True)
class SplitConfig:
    test_cutoff: str | None = None
    validation_cutoff: str | None = None


@dataclass(frozen=True)
class ModelConfig:
    n_estimators: int = 2000
    learning_rate: float = 0.03
    num_leaves: int = 31
    min_child_samples: int = 50
    subsample: float = 0.8
    subsample_freq: int = 1
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 100
    n_jobs: int = 2


@dataclass(frozen=True)
class EvaluateConfig:
    k: tuple[int, ...] = (50, 100, 500)
    shap_sample: int = 5000


@dataclass(frozen=True)
class GateConfig:
    min_pr_auc: float = 0.10
    min_lift_over_baseline: float = 1.0


@dataclass(frozen=True)
class ScoreConfig:
    as_of: str | None = None
    model_alias: str = "champion"
    top_reasons: int = 3


@dataclass(frozen=True)
class ReportConfig:
    top_n: int = 200


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = "key-account-potential"
    registered_model: str = "key-account-potential"

    def resolved_tracking_uri(self) -> str:
        """The environment's MLFLOW_TRACKING_URI wins over params, as MLflow users expect."""
        return os.environ.get("MLFLOW_TRACKING_URI") or self.tracking_uri


@dataclass(frozen=True)
class Params:
    seed: int
    data: DataConfig
    demo: DemoConfig
    labels: LabelsConfig
    features: FeaturesConfig
    split: SplitConfig
    model: ModelConfig
    evaluate: EvaluateConfig
    gate: GateConfig
    score: ScoreConfig
    report: ReportConfig
    mlflow: MlflowConfig


def _convert(value: Any, annotation: Any, where: str) -> Any:
    """Build `annotation` from a parsed YAML value, naming the key path on any mismatch."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"params: '{where}' must be a mapping, got {value!r}")
        return _build(annotation, value, where)
    if origin is Literal:
        if value not in typing.get_args(annotation):
            raise ConfigError(
                f"params: '{where}' must be one of {list(typing.get_args(annotation))}, got {value!r}"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(annotation):
            return None
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _convert(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"params: '{where}' must be a list, got {value!r}")
        item_type = typing.get_args(annotation)[0]
        return tuple(_convert(v, item_type, f"{where}[]") for v in value)
    if annotation is Path:
        return Path(str(value))
    if annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool) and isinstance(value, annotation):
        if annotation is int and isinstance(value, bool):
            raise ConfigError(f"params: '{where}' must be an integer, got {value!r}")
        return value
    raise ConfigError(f"params: '{where}' must be of type {annotation.__name__}, got {value!r}")


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"params: unknown key(s) {unknown} under '{where or 'top level'}'")
    kwargs = {}
    for f in dataclasses.fields(cls):
        path = f"{where}.{f.name}" if where else f.name
        if f.name in raw:
            kwargs[f.name] = _convert(raw[f.name], hints[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"params: required key '{path}' is missing")
    return cls(**kwargs)


def params_from_dict(raw: dict[str, Any]) -> Params:
    """Typed parameters from an already parsed params mapping."""
    return _build(Params, raw, "")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and type-check params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path} (run from the project folder or pass --params)")
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return params_from_dict(raw)
