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
class SourceFile:
    """One input file (or glob) of a table, relative to data.raw_dir, with its column mapping."""

    path: str
    columns: dict[str, str] = field(default_factory=dict)  # the file's column name -> our column name


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None
    encoding: str = "utf-8"
    date_format: str | None = None  # e.g. "%d/%m/%Y %H:%M"; null: ISO 8601 or inferred per value
    dayfirst: bool = False  # for inferred dates like 05/01/2023


@dataclass(frozen=True)
class CancellationRule:
    """Which lines are cancellations, returns or credit notes; their amounts are made negative."""

    negative_quantity: bool = True
    invoice_prefix: str | None = None  # e.g. "C" (Online Retail II)
    flag_column: str | None = None  # a column (after mapping) that is true for cancellations


@dataclass(frozen=True)
class FilesConfig:
    """How to read exports of real systems (data.source: files)."""

    transactions: tuple[SourceFile, ...] = ()
    customers: tuple[SourceFile, ...] = ()
    firmographics: tuple[SourceFile, ...] = ()
    currency: str = "EUR"
    csv: CsvOptions = field(default_factory=CsvOptions)
    timezone: str = "UTC"  # aware timestamps are converted to it; naive ones are taken as its local time
    cancellations: CancellationRule = field(default_factory=CancellationRule)
    exclude_products: tuple[str, ...] = ()  # non-product adjustment lines (postage, fees, bank charges)
    customer_attributes_from_transactions: tuple[str, ...] = ()  # e.g. ["country"]: latest value per customer
    max_abs_line_amount: float = 1.0e8  # lines beyond this are dropped as absurd (counted in the report)
    valid_until: str | None = None  # lines at or after this date are dropped as future-dated; null: today


@dataclass(frozen=True)
class DataConfig:
    source: Literal["demo", "files"]
    raw_dir: Path
    validated_dir: Path
    quality_dir: Path
    features_dir: Path
    labels_dir: Path
    model_dir: Path
    metrics_file: Path
    pr_curve_file: Path
    gains_file: Path
    precision_at_k_file: Path
    calibration_file: Path
    backtest_file: Path
    evaluation_dir: Path
    explain_dir: Path
    model_card_file: Path
    registry_file: Path
    scores_dir: Path
    files: FilesConfig = field(default_factory=FilesConfig)


@dataclass(frozen=True)
class DemoConfig:
    output_dir: Path = Path("data/raw")
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
    windows_days: tuple[int, ...] = (30, 90, 180, 365)
    families: tuple[str, ...] | None = None  # null: every family


@dataclass(frozen=True)
class SplitConfig:
    test_cutoff: str | None = None
    validation_cutoff: str | None = None
    validation_gap_months: int | None = None
    refit: bool = True


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
    prior_features: tuple[str, ...] = ()  # numeric features of the logistic prior the trees boost from; (): none


@dataclass(frozen=True)
class CalibrationConfig:
    method: Literal["isotonic", "platt", "none"] = "isotonic"
    isotonic_pseudo_rows: float = 1.0  # each isotonic step's rate is shrunk toward the base rate by this many rows


@dataclass(frozen=True)
class TuningConfig:
    enabled: bool = False
    n_trials: int = 20


@dataclass(frozen=True)
class EvaluateConfig:
    k: tuple[int, ...] = (50, 100, 500)
    capacity_shares: tuple[float, ...] = (0.01, 0.05)
    backtest_folds: int = 4
    backtest_every_months: int = 3
    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    calibration_bins: int = 10
    size_band_employees: tuple[int, ...] = (10, 50, 250)
    tenure_band_years: tuple[int, ...] = (1, 2, 3)
    shap_sample: int = 5000

    @property
    def headline_k(self) -> int:
        """The sales capacity quoted in plain words (model card, sales report): the middle of `k`."""
        return self.k[len(self.k) // 2]


@dataclass(frozen=True)
class GateConfig:
    min_pr_auc: float = 0.10
    min_lift_over_baseline: float = 1.0


@dataclass(frozen=True)
class ScoreConfig:
    as_of: str | None = None
    model_alias: str = "champion"
    top_reasons: int = 3
    max_data_age_days: int | None = None


@dataclass(frozen=True)
class ReportConfig:
    top_n: int = 200


TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"  # MLflow's own variable; when set it overrides params


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = "key-account-potential"
    registered_model: str = "key-account-potential"

    def resolved_tracking_uri(self) -> str:
        """The environment's MLFLOW_TRACKING_URI wins over params, as MLflow users expect. A relative SQLite
        path is made absolute against the working directory: MLflow caches one store per URI string in the
        process, so `sqlite:///mlflow.db` would keep pointing at the first folder it was opened in."""
        uri = os.environ.get(TRACKING_URI_VARIABLE) or self.tracking_uri
        prefix = "sqlite:///"
        database = Path(uri.removeprefix(prefix))
        if uri.startswith(prefix) and not database.is_absolute():
            return prefix + str(database.resolve())
        return uri


@dataclass(frozen=True)
class Params:
    seed: int
    data: DataConfig
    demo: DemoConfig
    labels: LabelsConfig
    features: FeaturesConfig
    split: SplitConfig
    model: ModelConfig
    calibration: CalibrationConfig
    tuning: TuningConfig
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
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(f"params: '{where}' must be a mapping of names to names, got {value!r}")
        return dict(value)
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
    params = _build(Params, raw, "")
    features = params.features
    if 365 not in features.windows_days or (features.families is not None and "spend" not in features.families):
        raise ConfigError("params: features need the 'spend' family and the 365-day window (the spend-rank "
                          "baseline and the prospect list's 12-month spend use spend_sum_365d)")
    if params.score.max_data_age_days is not None and params.score.max_data_age_days < 0:
        raise ConfigError(f"params: score.max_data_age_days must be >= 0 or null, got "
                          f"{params.score.max_data_age_days}")
    if params.calibration.isotonic_pseudo_rows < 0:
        raise ConfigError(f"params: calibration.isotonic_pseudo_rows must be >= 0, got "
                          f"{params.calibration.isotonic_pseudo_rows}")
    if params.data.source == "demo" and params.demo.output_dir.resolve() != params.data.raw_dir.resolve():
        raise ConfigError("params: with data.source 'demo', demo.output_dir must be data.raw_dir")
    if params.data.source == "files":
        raw, demo = params.data.raw_dir.resolve(), params.demo.output_dir.resolve()
        if raw == demo or raw.is_relative_to(demo) or demo.is_relative_to(raw):
            # the demo-data stage replaces its output folder: it must never be (or hold) the user's data
            raise ConfigError("params: with data.source 'files', demo.output_dir must lie outside data.raw_dir")
    return params


def find_project_root(start: Path) -> Path:
    """The first folder at or above `start` that holds params.yaml (notebooks run from notebooks/)."""
    for folder in [start, *start.parents]:
        if (folder / "params.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no params.yaml in {start} or any parent folder")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and type-check params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path} (run from the project folder or pass --params)")
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return params_from_dict(raw)
