"""Typed view of params.yaml: the single source of every knob and path.

Loading is explicit (`load_params`); nothing is read at import time. Unknown keys, values of the wrong type,
out of range, unparsable dates, unknown time zones, encodings and feature families raise `ConfigError` when
params are loaded, so a typo fails before any stage runs, not in the middle of a scheduled run. A key left
out takes its field's default here (required keys, such as the paths, have none).
"""

from __future__ import annotations

import codecs
import dataclasses
import itertools
import os
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from features.catalogue import feature_families
from pipeline.errors import ConfigError


@dataclass(frozen=True)
class SourceFile:
    """One input file (or glob) of a table, relative to data.raw_dir, with its column mapping."""

    path: str
    columns: dict[str, str | list[str]] = field(default_factory=dict)  # the file's column -> our column(s)


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","  # one character, or "whitespace" (runs of spaces and tabs)
    decimal: str = "auto"  # auto | "." | ",": auto decides per column from its values, refuses when they do not
    thousands: str = "auto"  # auto | none | "," | "." | " " | "'": as decimal
    encoding: str = "utf-8"  # a byte-order mark (UTF-8, UTF-16) wins over it
    date_format: str | None = None  # e.g. "%d/%m/%Y %H:%M"; null: one format inferred per column from all values
    dayfirst: bool | None = None  # null: decided by the values (ambiguous columns are refused); true/false: forced


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
    min_date: str = "1990-01-01"  # lines before this date are dropped as implausibly old (counted)
    stray_gap_days: int = 90  # lines cut off from the bulk of the data by an empty gap this long are stray
    stray_max_share: float = 0.01  # ... when they are at most this share of the lines (dropped, counted, listed)
    derive_invoice_id: bool = False  # true: exports without an invoice number get one per customer and day
    band_value: Literal["midpoint", "lower"] = "midpoint"  # size bands ("10-49", "1000+") as numbers: a closed
                                                           # band's midpoint or lower bound; an open one's bound
    max_unknown_customer_share: float = 0.5  # with a customer file: stop when more transaction customers than
                                             # this share are missing from it (ids that do not match)


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
    prior_features: tuple[str, ...] = ("spend_sum_365d",)  # numeric features of the logistic prior the trees boost
                                                           # from; (): none


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
    problems = _range_problems(params) + _date_problems(params) + _name_problems(params)
    if problems:
        raise ConfigError("params: " + "; ".join(problems))
    if params.data.source == "demo" and params.demo.output_dir.resolve() != params.data.raw_dir.resolve():
        raise ConfigError("params: with data.source 'demo', demo.output_dir must be data.raw_dir")
    if params.data.source == "files":
        raw, demo = params.data.raw_dir.resolve(), params.demo.output_dir.resolve()
        if raw == demo or raw.is_relative_to(demo) or demo.is_relative_to(raw):
            # the demo-data stage replaces its output folder: it must never be (or hold) the user's data
            raise ConfigError("params: with data.source 'files', demo.output_dir must lie outside data.raw_dir")
    return params


def _range_problems(p: Params) -> list[str]:
    """'key must be ..., got value' for every number outside its meaningful range."""
    ev, key_account, model = p.evaluate, p.labels.key_account, p.model

    def increasing(values: tuple) -> bool:
        return len(values) > 0 and all(a < b for a, b in itertools.pairwise(values))

    checks = [
        ("demo.n_customers", p.demo.n_customers, p.demo.n_customers >= 1, ">= 1"),
        ("demo.years", p.demo.years, p.demo.years >= 1, ">= 1"),
        ("demo.n_categories", p.demo.n_categories, p.demo.n_categories >= 1, ">= 1"),
        ("demo.n_products", p.demo.n_products, p.demo.n_products >= p.demo.n_categories, ">= demo.n_categories"),
        ("demo.n_account_owners", p.demo.n_account_owners, p.demo.n_account_owners >= 1, ">= 1"),
        ("labels.horizon_months", p.labels.horizon_months, p.labels.horizon_months >= 1, ">= 1"),
        ("labels.active_months", p.labels.active_months, p.labels.active_months >= 1, ">= 1"),
        ("labels.key_account.trailing_months", key_account.trailing_months, key_account.trailing_months >= 1,
         ">= 1"),
        ("labels.key_account.revenue_share", key_account.revenue_share, 0 < key_account.revenue_share < 1,
         "in (0, 1)"),
        ("labels.key_account.top_share", key_account.top_share, 0 < key_account.top_share < 1, "in (0, 1)"),
        ("labels.key_account.absolute_amount", key_account.absolute_amount, key_account.absolute_amount > 0, "> 0"),
        ("features.cutoff_every_months", p.features.cutoff_every_months, p.features.cutoff_every_months >= 1,
         ">= 1"),
        ("features.windows_days", list(p.features.windows_days), increasing(p.features.windows_days)
         and p.features.windows_days[0] >= 1, "increasing day counts >= 1"),
        ("split.validation_gap_months", p.split.validation_gap_months,
         p.split.validation_gap_months is None or p.split.validation_gap_months >= 0, ">= 0 or null"),
        ("model.n_estimators", model.n_estimators, model.n_estimators >= 1, ">= 1"),
        ("model.learning_rate", model.learning_rate, model.learning_rate > 0, "> 0"),
        ("model.num_leaves", model.num_leaves, model.num_leaves >= 2, ">= 2"),
        ("model.min_child_samples", model.min_child_samples, model.min_child_samples >= 1, ">= 1"),
        ("model.subsample", model.subsample, 0 < model.subsample <= 1, "in (0, 1]"),
        ("model.subsample_freq", model.subsample_freq, model.subsample_freq >= 0, ">= 0"),
        ("model.colsample_bytree", model.colsample_bytree, 0 < model.colsample_bytree <= 1, "in (0, 1]"),
        ("model.reg_lambda", model.reg_lambda, model.reg_lambda >= 0, ">= 0"),
        ("model.early_stopping_rounds", model.early_stopping_rounds, model.early_stopping_rounds >= 1, ">= 1"),
        ("calibration.isotonic_pseudo_rows", p.calibration.isotonic_pseudo_rows,
         p.calibration.isotonic_pseudo_rows >= 0, ">= 0"),
        ("tuning.n_trials", p.tuning.n_trials, p.tuning.n_trials >= 1, ">= 1"),
        ("evaluate.k", list(ev.k), increasing(ev.k) and ev.k[0] >= 1, "increasing counts >= 1"),
        ("evaluate.capacity_shares", list(ev.capacity_shares), all(0 < c < 1 for c in ev.capacity_shares),
         "shares in (0, 1)"),
        ("evaluate.backtest_folds", ev.backtest_folds, ev.backtest_folds >= 1, ">= 1"),
        ("evaluate.backtest_every_months", ev.backtest_every_months, ev.backtest_every_months >= 1, ">= 1"),
        ("evaluate.bootstrap_resamples", ev.bootstrap_resamples, ev.bootstrap_resamples >= 1, ">= 1"),
        ("evaluate.confidence", ev.confidence, 0 < ev.confidence < 1, "in (0, 1)"),
        ("evaluate.calibration_bins", ev.calibration_bins, ev.calibration_bins >= 1, ">= 1"),
        ("evaluate.size_band_employees", list(ev.size_band_employees), increasing(ev.size_band_employees),
         "increasing bounds"),
        ("evaluate.tenure_band_years", list(ev.tenure_band_years), increasing(ev.tenure_band_years),
         "increasing bounds"),
        ("evaluate.shap_sample", ev.shap_sample, ev.shap_sample >= 1, ">= 1"),
        ("gate.min_pr_auc", p.gate.min_pr_auc, 0 <= p.gate.min_pr_auc <= 1, "in [0, 1]"),
        ("gate.min_lift_over_baseline", p.gate.min_lift_over_baseline, p.gate.min_lift_over_baseline >= 0, ">= 0"),
        ("score.top_reasons", p.score.top_reasons, p.score.top_reasons >= 0, ">= 0"),
        ("score.max_data_age_days", p.score.max_data_age_days,
         p.score.max_data_age_days is None or p.score.max_data_age_days >= 0, ">= 0 or null"),
        ("report.top_n", p.report.top_n, p.report.top_n >= 1, ">= 1"),
        ("data.files.stray_gap_days", p.data.files.stray_gap_days, p.data.files.stray_gap_days >= 1, ">= 1"),
        ("data.files.stray_max_share", p.data.files.stray_max_share, 0 <= p.data.files.stray_max_share < 0.5,
         "in [0, 0.5)"),
        ("data.files.max_unknown_customer_share", p.data.files.max_unknown_customer_share,
         0 <= p.data.files.max_unknown_customer_share <= 1, "in [0, 1]"),
    ]
    return [f"{key} must be {rule}, got {value!r}" for key, value, ok, rule in checks if not ok]


def _date_problems(p: Params) -> list[str]:
    """'key must be a date, got value' for every date knob that is not a calendar date."""
    dates = {"demo.start_date": p.demo.start_date, "features.first_cutoff": p.features.first_cutoff,
             "split.test_cutoff": p.split.test_cutoff, "split.validation_cutoff": p.split.validation_cutoff,
             "data.files.valid_until": p.data.files.valid_until, "data.files.min_date": p.data.files.min_date,
             "score.as_of": p.score.as_of}
    problems = []
    for key, value in dates.items():
        try:
            ok = value is None or pd.Timestamp(value) == pd.Timestamp(value).normalize()
        except (ValueError, TypeError):
            ok = False
        if not ok:
            problems.append(f"{key} must be a date such as 2024-01-31, got {value!r}")
    return problems


def _name_problems(p: Params) -> list[str]:
    """Unknown time zone, text encoding or feature families."""
    problems = []
    try:
        zoneinfo.ZoneInfo(p.data.files.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"data.files.timezone must be a time zone such as Europe/Berlin, got "
                        f"{p.data.files.timezone!r}")
    try:
        codecs.lookup(p.data.files.csv.encoding)
    except LookupError:
        problems.append(f"data.files.csv.encoding must be a text encoding such as utf-8, got "
                        f"{p.data.files.csv.encoding!r}")
    known = feature_families(p.features.windows_days)
    unknown = [f for f in p.features.families or () if f not in known]
    if unknown:
        problems.append(f"features.families has unknown families {unknown} (known: {', '.join(known)})")
    return problems


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
