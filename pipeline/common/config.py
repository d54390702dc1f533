"""Typed view of params.yaml: the single source of every knob and path.

Every group of params.yaml is a frozen pydantic model below, except labels.key_account, which is the labels
library's own `KeyAccountRule`: each key's type, default, bounds and a one-line description live in its
`Field`. Loading is explicit (`load_params`); nothing is read at import time. Unknown keys, values of the wrong
type, out of range, unparsable dates, unknown time zones, encodings and feature families raise `ConfigError`
when params are loaded (one line per problem, naming the key path), so a typo fails before any stage runs, not
in the middle of a scheduled run. A key left out takes its field's default (required keys, such as the paths,
have none).

Files are read with a safe YAML loader that refuses duplicate keys and aliases of mappings or lists (a scalar
anchor such as `&raw_dir` is fine), so a "billion laughs" file fails at once.

Profiles: a file may say `extends: params.yaml` (a path relative to that file; chains are allowed, cycles are
refused). The file's mappings are merged into its parent's deeply; lists and scalars replace the parent's.

Relative paths resolve against the folder of the file that sets them, not the working directory, so
`kap run-all --params /abs/configs/x.yaml` means the same from any folder (e.g. cron). This applies to every
path of `data` (raw_dir, validated_dir, ... scores_dir), to `demo.output_dir` and to a relative `sqlite:///`
`mlflow.tracking_uri`; it does not apply to `data.files.*[].path`, which stay relative to `data.raw_dir`. The
folder is taken as the file was named (`params.yaml` in the working directory: paths stay as written) and the
joined path is normalised (`configs/../data` is `data`). `params_from_dict` resolves nothing: its relative paths
are relative to the working directory.
"""

from __future__ import annotations

import codecs
import datetime
import difflib
import itertools
import json
import os
import types
import typing
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from features.catalogue import feature_families
from features.labels import KeyAccountRule, Months, Share
from pipeline.common.errors import ConfigError

MAX_REPR = 60  # characters of an offending value quoted in a message


def _short(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."


def _date_text(value: Any) -> Any:
    """YAML reads an unquoted 2024-01-31 as a date: take it as the text it was."""
    return value.isoformat() if isinstance(value, datetime.date) else value


def _calendar_date(value: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) only: "03.04.2024" could be 3 April or 4 March, and params never guess."""
    if value is None:
        return value
    try:
        datetime.date.fromisoformat(value if len(value) == len("2024-01-31") else "")
    except (ValueError, TypeError):
        raise ValueError(f"must be a date written YYYY-MM-DD such as 2024-01-31, got {_short(value)}") from None
    return value


def _increasing(values: tuple) -> tuple:
    if not all(a < b for a, b in itertools.pairwise(values)):
        raise ValueError(f"must be increasing, got {_short(values)}")
    return values


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be a time zone such as Europe/Berlin, got {_short(value)}") from None
    return value


def _text_encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"must be a text encoding such as utf-8, got {_short(value)}") from None
    return value


def _delimiter(value: str) -> str:
    if len(value) != 1 and value != "whitespace":
        raise ValueError(f"must be one character or 'whitespace', got {_short(value)}")
    return value


def _our_columns(value: Any) -> Any:
    """A file's column feeds one of our columns (a name) or several (a list of names)."""
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        return value
    raise ValueError(f"must be a column name or a non-empty list of column names, got {_short(value)}")


def _date_format(value: str | None) -> str | None:
    """A strftime format pandas can read dates with (an unknown directive such as %Q is refused)."""
    if value is not None:
        try:
            pd.to_datetime(pd.Series(["2024-01-31"]), format=value, errors="coerce")
        except ValueError as error:
            raise ValueError(f"is not a date format such as %d.%m.%Y ({error})") from None
    return value


Date = Annotated[StrictStr, BeforeValidator(_date_text), AfterValidator(_calendar_date)]
OptionalDate = Annotated[StrictStr | None, BeforeValidator(_date_text), AfterValidator(_calendar_date)]
Count = Annotated[StrictInt, Field(ge=1)]


class _Group(BaseModel):
    """A group of params.yaml: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceFile(_Group):
    """One input file (or glob) of a table, relative to data.raw_dir, with its column mapping."""

    path: StrictStr = Field(min_length=1, description="File or glob, relative to data.raw_dir.")
    columns: dict[StrictStr, Annotated[StrictStr | tuple[StrictStr, ...], BeforeValidator(_our_columns)]] = Field(
        default_factory=dict,
        description="The file's column -> our column, or a list of ours when one source column feeds several.")


class CsvOptions(_Group):
    """How CSV files are read."""

    delimiter: Annotated[StrictStr, AfterValidator(_delimiter)] = Field(
        ",", description="One character, or 'whitespace' (runs of spaces and tabs).")
    decimal: Literal["auto", ".", ","] = Field(
        "auto", description="Decimal mark; auto: decided per column from its values, refused when they cannot tell.")
    thousands: Literal["auto", "none", ",", ".", " ", "'"] = Field(
        "auto", description="Thousands separator; auto: decided per column from its values, as decimal.")
    encoding: Annotated[StrictStr, AfterValidator(_text_encoding)] = Field(
        "utf-8", description="Text encoding; a byte-order mark (UTF-8, UTF-16) wins over it.")
    date_format: Annotated[StrictStr | None, AfterValidator(_date_format)] = Field(
        None, description="strftime format such as '%d/%m/%Y %H:%M'; null: one format inferred per column.")
    dayfirst: StrictBool | None = Field(
        None, description="null: decided by the values (ambiguous columns are refused); true/false: forced.")


class CancellationRule(_Group):
    """Which lines are cancellations, returns or credit notes; their amounts are made negative."""

    negative_quantity: StrictBool = Field(True, description="Lines with a negative quantity are cancellations.")
    invoice_prefix: StrictStr | None = Field(
        None, description="Invoice ids with this prefix are cancellations, e.g. 'C' (Online Retail II).")
    flag_column: StrictStr | None = Field(
        None, description="A column (after mapping) that is true for cancellations.")


class FilesConfig(_Group):
    """How to read exports of real systems (data.source: files)."""

    transactions: tuple[SourceFile, ...] = Field((), description="Transaction files with their column mappings.")
    customers: tuple[SourceFile, ...] = Field((), description="Customer files with their column mappings.")
    firmographics: tuple[SourceFile, ...] = Field((), description="Firmographics files with their column mappings.")
    currency: StrictStr = Field("EUR", min_length=1, description="Currency of the amounts, shown in reports.")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="How CSV files are read.")
    timezone: Annotated[StrictStr, AfterValidator(_time_zone)] = Field(
        "UTC", description="Aware timestamps are converted to it; naive ones are taken as its local time.")
    cancellations: CancellationRule = Field(
        default_factory=CancellationRule, description="Which lines are cancellations, returns or credit notes.")
    exclude_products: tuple[StrictStr, ...] = Field(
        (), description="Product ids of non-product lines (postage, fees, bank charges), dropped and counted.")
    customer_attributes_from_transactions: tuple[StrictStr, ...] = Field(
        (), description="Customer columns taken from the transactions (latest value per customer), e.g. country.")
    max_abs_line_amount: StrictFloat = Field(
        1.0e8, gt=0, description="Lines with a larger absolute amount are dropped as absurd (counted).")
    valid_until: OptionalDate = Field(
        None, description="Lines at or after this date are dropped as future-dated; null: after today.")
    min_date: Date = Field("1990-01-01", description="Lines before this date are dropped as implausibly old.")
    stray_gap_days: StrictInt = Field(
        90, ge=1, description="Lines cut off from the bulk of the data by an empty gap this long are stray ...")
    stray_max_share: StrictFloat = Field(
        0.01, ge=0, lt=0.5, description="... when they are at most this share of the lines (dropped, counted).")
    derive_invoice_id: StrictBool = Field(
        False, description="Exports without an invoice number get one per customer and day.")
    band_value: Literal["midpoint", "lower"] = Field(
        "midpoint", description="Size bands ('10-49', '1000+') as numbers: a closed band's midpoint or lower "
                                "bound; an open band's bound.")
    max_unknown_customer_share: StrictFloat = Field(
        0.5, ge=0, le=1, description="With a customer file: stop when a larger share of the transactions' "
                                     "customers is missing from it.")


class DataConfig(_Group):
    """Where the data comes from and where every stage writes."""

    source: Literal["demo", "files"] = Field(
        description="demo: the demo-data stage writes raw_dir; files: your exports (data.files).")
    raw_dir: Path = Field(description="Raw inputs; with source files, your folder (never modified by the pipeline).")
    validated_dir: Path = Field(description="Typed, cleaned Parquet tables.")
    quality_dir: Path = Field(description="Data-quality report (Markdown and JSON).")
    features_dir: Path = Field(description="Feature snapshots, one row per (customer_id, cutoff).")
    labels_dir: Path = Field(description="Labels and eligibility per (customer_id, cutoff).")
    model_dir: Path = Field(description="Trained model (MLflow format) and training summary.")
    metrics_file: Path = Field(description="Headline metrics of the model and the best baseline (JSON).")
    evaluation_dir: Path = Field(description="Every ranking's metrics, backtest predictions, per-cutoff and "
                                             "per-segment metrics, DVC plot tables (plots/), plot images.")
    explain_dir: Path = Field(description="SHAP summary plot and mean |SHAP| table.")
    model_card_file: Path = Field(description="Model card (Markdown).")
    registry_file: Path = Field(description="Registry decision: champion or challenger (JSON).")
    scores_dir: Path = Field(description="Scoring runs (runs/<as-of>/, the latest pointer) and the ledger of "
                                         "issued lists.")
    track_record_file: Path = Field(description="The issued lists' realised track record (JSON; Markdown beside).")
    files: FilesConfig = Field(default_factory=FilesConfig, description="How to read your exports.")


class DemoConfig(_Group):
    """The built-in demo data."""

    output_dir: Path = Field(Path("data/raw"), description="Where the demo-data stage writes (raw_dir with "
                                                         "source demo; outside raw_dir with source files).")
    world: Literal["adoption", "projects"] = Field(
        "adoption", description="Which world to simulate: adoption (share of wallet ramps after a pilot) or "
                                "projects (lumpy spend from won tenders with momentum); docs/worlds.md.")
    n_customers: Count = Field(20000, description="Simulated customers.")
    start_date: Date = Field("2020-01-01", description="First day of the simulated period.")
    years: Count = Field(5, description="Length of the simulated period in years.")
    n_categories: Count = Field(24, description="Product categories.")
    n_products: Count = Field(1500, description="Products (at least one per category).")
    n_account_owners: Count = Field(25, description="Sales people who own accounts.")

    @field_validator("n_products")
    @classmethod
    def _a_product_per_category(cls, n_products: int, info: ValidationInfo) -> int:
        n_categories = info.data.get("n_categories")
        if n_categories is not None and n_products < n_categories:
            raise ValueError(f"must be >= demo.n_categories ({n_categories}), got {n_products}")
        return n_products

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.start_date)

    @property
    def end(self) -> pd.Timestamp:
        """Exclusive end of the simulated period."""
        return self.start + pd.DateOffset(years=self.years)


class LabelsConfig(_Group):
    """The outcome a model predicts."""

    horizon_months: Months = Field(12, description="Outcome window [cutoff, cutoff + horizon).")
    active_months: Months = Field(12, description="Eligible only if it bought in the last N months before the cutoff.")
    key_account: KeyAccountRule = Field(default_factory=KeyAccountRule, description="The key-account bar.")
    eligible_max_share_of_bar: Share | None = Field(
        None, description="Eligible only below this share of the bar (customers far from it); null: below the bar.")


SPARK_MASTER_VARIABLE = "SPARK_MASTER"  # when set it overrides features.spark.master


class SparkConfig(_Group):
    """The Spark session of `features.engine: spark` (docs/spark.md)."""

    master: StrictStr | None = Field(
        None, description="Master URL (local[2], spark://host:7077, yarn, k8s://...); the SPARK_MASTER environment "
        "variable overrides it; null: spark-submit's --master or spark-defaults.conf, else local[*].")
    conf: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description="Spark settings set on the session; they win over spark-defaults.conf "
        "and spark-submit's --conf.")
    lines_per_bucket: Count = Field(
        2_000_000, description="Transaction lines per bucket of customers built in one executor task (memory).")

    def resolved_master(self) -> str | None:
        """SPARK_MASTER, else params; None: left to spark-submit, spark-defaults.conf or Spark's local[*]."""
        return os.environ.get(SPARK_MASTER_VARIABLE) or self.master


class FeaturesConfig(_Group):
    """Point-in-time feature snapshots."""

    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="duckdb: on this machine; spark: the per-customer work in Spark's executors.")
    spark: SparkConfig = Field(default_factory=SparkConfig, description="The Spark session (engine spark).")

    first_cutoff: OptionalDate = Field(
        None, description="First monthly cutoff; null: the first month start with a full history.")
    cutoff_every_months: Months = Field(1, description="Months between cutoffs.")
    windows_days: Annotated[tuple[Count, ...], Field(min_length=1), AfterValidator(_increasing)] = Field(
        (30, 90, 180, 365), description="Trailing windows of the windowed features (365 is required).")
    families: tuple[StrictStr, ...] | None = Field(
        None, description="Feature families switched on (`kap features-list` shows them); null: every family.")

    @field_validator("windows_days")
    @classmethod
    def _baseline_window(cls, windows_days: tuple[int, ...]) -> tuple[int, ...]:
        if 365 not in windows_days:
            raise ValueError(f"must include 365 (the spend-rank baseline and the prospect list's 12-month spend "
                             f"use spend_sum_365d), got {_short(windows_days)}")
        return windows_days

    @field_validator("families")
    @classmethod
    def _known_families_with_the_baseline(cls, families: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if families is None:
            return families
        if "spend" not in families:
            raise ValueError("must include 'spend' (the spend-rank baseline and the prospect list's 12-month "
                             "spend use spend_sum_365d)")
        known = feature_families()
        unknown = [f for f in families if f not in known]
        if unknown:
            raise ValueError(f"has unknown families {_short(unknown)} (known: {', '.join(known)})")
        return families


class SplitConfig(_Group):
    """Train, validation and test cutoffs."""

    test_cutoff: OptionalDate = Field(None, description="null: the last cutoff whose outcome is fully observed.")
    validation_cutoff: OptionalDate = Field(None, description="null: test_cutoff - horizon.")
    validation_gap_months: StrictInt | None = Field(
        None, ge=0, le=240, description="Training cutoffs lie this many months before validation; null: the horizon.")
    refit: StrictBool = Field(True, description="After early stopping, refit with its rounds on every cutoff "
                                                "through validation.")


class SignalGuardConfig(_Group):
    """The noise guard: grouped permutation importance on the validation cutoff (docs/model.md)."""

    enabled: StrictBool = Field(True, description="Leave out the feature measures without a stable signal.")
    repeats: StrictInt = Field(5, ge=2, le=100, description="Shuffles of each measure's columns.")
    z: StrictFloat = Field(2.0, ge=0, description="A measure stays when its mean drop in validation PR-AUC "
                                                  "exceeds this many null spreads plus min_drop.")
    min_drop: StrictFloat = Field(0.0, ge=0, lt=1, description="Least mean drop in validation PR-AUC worth keeping.")


class ModelConfig(_Group):
    """LightGBM hyperparameters, the logistic prior and the noise guard."""

    n_estimators: Count = Field(2000, description="Maximum boosting rounds.")
    learning_rate: StrictFloat = Field(0.03, gt=0, description="Shrinkage per round.")
    num_leaves: StrictInt = Field(31, ge=2, description="Leaves per tree.")
    min_child_samples: Count = Field(50, description="Rows per leaf at least.")
    subsample: StrictFloat = Field(0.8, gt=0, le=1, description="Share of rows per bagging round.")
    subsample_freq: StrictInt = Field(1, ge=0, description="Bagging every this many rounds; 0: no bagging.")
    colsample_bytree: StrictFloat = Field(0.8, gt=0, le=1, description="Share of features per tree.")
    reg_lambda: StrictFloat = Field(1.0, ge=0, description="L2 regularisation.")
    early_stopping_rounds: Count = Field(100, description="Stop after this many rounds without improvement.")
    n_jobs: StrictInt = Field(2, description="LightGBM threads.")
    prior_features: tuple[StrictStr, ...] = Field(
        ("spend_sum_365d",), description="Numeric features of the logistic prior the trees boost from; []: none.")
    signal_guard: SignalGuardConfig = Field(default_factory=SignalGuardConfig,
                                            description="Leave out feature measures without a stable signal.")


class CalibrationConfig(_Group):
    """Probability calibration on the validation cutoff."""

    method: Literal["isotonic", "platt", "none"] = Field("isotonic", description="Calibration method.")
    isotonic_pseudo_rows: StrictFloat = Field(
        1.0, ge=0, description="Each isotonic step's rate is shrunk toward the base rate by this many rows.")


class TuningConfig(_Group):
    """Seeded Optuna search on the validation cutoff."""

    enabled: StrictBool = Field(False, description="Run the search before training.")
    n_trials: Count = Field(20, description="Trials of the search.")


class EvaluateConfig(_Group):
    """Backtest, confidence intervals and segments."""

    k: Annotated[tuple[Count, ...], Field(min_length=1), AfterValidator(_increasing)] = Field(
        (50, 100, 500), description="Sales capacities: customers a team can call in a horizon.")
    capacity_shares: tuple[Share, ...] = Field((0.01, 0.05), description="Capacities as shares of the eligible.")
    backtest_folds: Annotated[StrictInt, Field(ge=1, le=120)] = Field(
        4, description="Rolling-origin test cutoffs, the last one the split's.")
    backtest_every_months: Months = Field(3, description="Months between backtest test cutoffs.")
    bootstrap_resamples: Count = Field(1000, description="Resamples for the confidence intervals of PR-AUC.")
    confidence: Share = Field(0.95, description="Confidence level of the intervals.")
    calibration_bins: Count = Field(10, description="Equal-width bins of the reliability plot and the ECE.")
    size_band_employees: Annotated[tuple[StrictInt, ...], Field(min_length=1), AfterValidator(_increasing)] = Field(
        (10, 50, 250), description="Segment bounds of firm size (employees).")
    tenure_band_years: Annotated[tuple[StrictInt, ...], Field(min_length=1), AfterValidator(_increasing)] = Field(
        (1, 2, 3), description="Segment bounds of tenure (years since the first order).")
    shap_sample: Count = Field(5000, description="Rows of the test cutoff explained for the global summary.")

    @property
    def headline_k(self) -> int:
        """The sales capacity quoted in plain words (model card, sales report) and in the headline metrics
        (data.metrics_file): the middle of `k`."""
        return self.k[len(self.k) // 2]


class GateConfig(_Group):
    """When a challenger becomes champion."""

    min_pr_auc: StrictFloat = Field(
        0.10, ge=0, le=1, description="A challenger whose test PR-AUC is below this never becomes champion.")
    min_lift_lower: StrictFloat = Field(
        1.0, ge=0, description="The lower bound of the paired interval of the backtest PR-AUC ratio to each fold's "
                               "strongest baseline must lie above this (strictly: 1.0 refuses a tie).")
    champion_tolerance: StrictFloat = Field(
        0.01, ge=0, le=1, description="On the test cutoff the challenger's PR-AUC may fall short of the champion's, "
                                      "scored on the same rows, by at most this (absolute PR-AUC).")


class DriftConfig(_Group):
    """Early warning without labels: the scored population against the reference stored with the model."""

    bins: StrictInt = Field(10, ge=2, le=100, description="Quantile bins of the reference per numeric feature.")
    psi_warn: StrictFloat = Field(0.1, gt=0, description="A population stability index above this is reported.")
    psi_alert: StrictFloat = Field(0.25, gt=0, description="... above this it is an alert (the score's, or any "
                                                          "feature the model reads).")
    expected_change_alert: StrictFloat = Field(
        0.5, gt=0, description="Alert when the expected share of new key accounts (mean probability) differs from "
                               "the reference's by more than this relative change (0.5: half again, or half).")

    @model_validator(mode="after")
    def _warn_below_alert(self) -> DriftConfig:
        if self.psi_warn > self.psi_alert:
            raise ValueError("score.drift.psi_warn must not exceed score.drift.psi_alert")
        return self


class ScoreConfig(_Group):
    """The scoring run."""

    as_of: OptionalDate = Field(None, description="Scoring date; null: the day after the last transaction.")
    model_alias: StrictStr = Field("champion", min_length=1, description="Registry alias the scoring run loads.")
    top_reasons: StrictInt = Field(3, ge=0, description="Reasons listed per customer.")
    max_data_age_days: StrictInt | None = Field(
        None, ge=0, description="Fail when the newest transaction is older than this; null: no check.")
    keep_runs: Count = Field(12, description="Runs kept under scores_dir/runs (the oldest are removed).")
    min_free_mb: StrictInt = Field(500, ge=0, description="Free space scores_dir needs before any heavy work.")
    capacity: Count = Field(100, description="Customers in tier A: the accounts sales can work in a horizon.")
    capacity_per_owner: Count | None = Field(
        None, description="Tier A per account owner instead: each owner's top N (customers without an owner form "
                          "one group); null: score.capacity overall.")
    tier_b_share: StrictFloat = Field(0.10, gt=0, le=1, description="Tier B: after A, down to this share of the "
                                                                    "eligible customers by rank.")
    tier_c_share: StrictFloat = Field(0.30, gt=0, le=1, description="Tier C: after B, down to this share; D: the "
                                                                    "rest.")
    explain_top: Count = Field(50000, description="Customers (by rank) given reasons and contributions.")
    movers: StrictInt = Field(20, ge=0, description="Biggest rank movers since the previous run explained.")
    holdout_share: StrictFloat = Field(
        0.0, ge=0, lt=1, description="Seeded share of tier A withheld from sales as a control group (ledger).")
    drift: DriftConfig = Field(default_factory=DriftConfig, description="Drift alarms against the model's "
                                                                        "reference.")

    @model_validator(mode="after")
    def _tiers_nested(self) -> ScoreConfig:
        if self.tier_b_share > self.tier_c_share:
            raise ValueError("score.tier_b_share must not exceed score.tier_c_share")
        return self


TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"  # MLflow's own variable; when set it overrides params
SQLITE_PREFIX = "sqlite:///"


class MlflowConfig(_Group):
    """Experiment tracking and the model registry."""

    tracking_uri: StrictStr = Field(
        "sqlite:///mlflow.db", description="Overridden by the MLFLOW_TRACKING_URI environment variable.")
    experiment: StrictStr = Field("key-account-potential", min_length=1, description="MLflow experiment.")
    registered_model: StrictStr = Field("key-account-potential", min_length=1, description="Registered model.")

    def resolved_tracking_uri(self) -> str:
        """The environment's MLFLOW_TRACKING_URI wins over params, as MLflow users expect. A relative SQLite
        path is made absolute against the working directory: MLflow caches one store per URI string in the
        process, so `sqlite:///mlflow.db` would keep pointing at the first folder it was opened in."""
        uri = os.environ.get(TRACKING_URI_VARIABLE) or self.tracking_uri
        database = Path(uri.removeprefix(SQLITE_PREFIX))
        if uri.startswith(SQLITE_PREFIX) and not database.is_absolute():
            return SQLITE_PREFIX + str(database.resolve())
        return uri


class Params(_Group):
    """Every knob and path of the pipeline (params.yaml)."""

    seed: StrictInt = Field(description="Seed of every random draw.")
    data: DataConfig = Field(description="Where the data comes from and where every stage writes.")
    demo: DemoConfig = Field(default_factory=DemoConfig, description="The built-in demo data.")
    labels: LabelsConfig = Field(default_factory=LabelsConfig, description="The outcome a model predicts.")
    features: FeaturesConfig = Field(default_factory=FeaturesConfig, description="Feature snapshots.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="Train, validation and test cutoffs.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="LightGBM and the logistic prior.")
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig, description="Calibration.")
    tuning: TuningConfig = Field(default_factory=TuningConfig, description="Hyperparameter search.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Backtest and segments.")
    gate: GateConfig = Field(default_factory=GateConfig, description="When a challenger becomes champion.")
    score: ScoreConfig = Field(default_factory=ScoreConfig, description="The scoring run.")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="Tracking and registry.")

    @model_validator(mode="after")
    def _demo_output_beside_the_data(self) -> Params:
        raw, demo = self.data.raw_dir.resolve(), self.demo.output_dir.resolve()
        if self.data.source == "demo" and demo != raw:
            raise ValueError("with data.source 'demo', demo.output_dir must be data.raw_dir")
        if self.data.source == "files" and (raw == demo or raw.is_relative_to(demo) or demo.is_relative_to(raw)):
            # the demo-data stage replaces its output folder: it must never be (or hold) the user's data
            raise ValueError("with data.source 'files', demo.output_dir must lie outside data.raw_dir")
        return self


# --- errors -----------------------------------------------------------------------------------------------------

BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"), "less_than": ("<", "lt"),
          "less_than_equal": ("<=", "le")}
TYPE_NAMES = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "text",
              "tuple": "a list", "list": "a list", "dict": "a mapping", "model": "a mapping", "literal": ""}


def _annotation_at(loc: tuple) -> tuple[Any, bool]:
    """The annotation at an error location inside Params (None if unknown) and whether it allows null."""
    annotation: Any = Params
    nullable = False
    for part in loc:
        annotation, nullable = _unwrap(annotation)
        if isinstance(part, int) and typing.get_origin(annotation) is tuple:
            annotation = typing.get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[part].annotation
        else:
            return None, False
    annotation, nullable = _unwrap(annotation)
    return annotation, nullable


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); Annotated[X, ...] -> X."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])[0], True
    return annotation, False


def _key_path(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _problem(error: dict) -> str:
    """One short line for one pydantic error: the key path, the rule, the offending value."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    key = _key_path(loc)
    if kind == "extra_forbidden":
        parent, _ = _annotation_at(loc[:-1])
        known = list(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return f"unknown key '{key}'" + (f" (did you mean '{_key_path((*loc[:-1], close[0]))}'?)" if close else "")
    if kind == "missing":
        return f"required key '{key}' is missing"
    annotation, nullable = _annotation_at(loc)
    if kind == "value_error":
        message = str(ctx.get("error") or error["msg"].removeprefix("Value error, "))
        is_group = not loc or (isinstance(annotation, type) and issubclass(annotation, BaseModel))
        return (f"{key}: {message}" if key else message) if is_group else f"{key} {message}"
    if kind in BOUNDS:
        sign, name = BOUNDS[kind]
        bound = ctx[name]
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        rule = f"must be {sign} {bound}" + (" or null" if nullable else "")
    elif kind == "literal_error":
        rule = f"must be one of {ctx['expected']}"
    elif kind == "too_short":
        rule = f"must have at least {ctx['min_length']} item(s)" if "min_length" in ctx else "is too short"
    elif kind.split("_")[0] in TYPE_NAMES:
        rule = f"must be {TYPE_NAMES[kind.split('_')[0]]}" + (" or null" if nullable else "")
    else:
        rule = error["msg"][0].lower() + error["msg"][1:]
    return f"{key} {rule}, got {_short(error['input'])}"


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    problems = dict.fromkeys(_problem(e) for e in exc.errors())
    return ConfigError("\n".join(f"{source}: {p}" for p in problems))


def params_with(params: Params, changes: dict[str, Any]) -> Params:
    """`params` with dotted keys replaced (e.g. {"evaluate.backtest_folds": 2}), validated like params.yaml (an
    unknown key is refused)."""
    raw = params.model_dump()
    for key, value in changes.items():
        *groups, name = key.split(".")
        node = raw
        for group in groups:
            node = node[group]
        node[name] = value
    return type(params).model_validate(raw)


def params_from_dict(raw: dict[str, Any], source: str = "params") -> Params:
    """Typed parameters from an already parsed params mapping; `source` names it in messages."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings, got {_short(raw)}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, source) from None


# --- files --------------------------------------------------------------------------------------------------------

class ParamsLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys and aliases of mappings or lists (no exponential expansion)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and not isinstance(target, yaml.ScalarNode):
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} refers to a mapping or list; only aliases of single "
                                "values are allowed (write the values out)", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base class refuses it
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of one params file; every problem is a ConfigError naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"params file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"params file {path} cannot be read: {exc.strerror}") from None
    try:
        raw = yaml.load(text, Loader=ParamsLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"params file {path}{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"params file {path}: the top level must be a mapping of settings, got {_short(raw)}")
    return raw


def _joined(folder: Path, value: str) -> str:
    return os.path.normpath(folder / value)


def _resolve_paths(raw: dict[str, Any], model: type[BaseModel], folder: Path) -> dict[str, Any]:
    """`raw` with the relative values of `model`'s Path fields (recursively) joined to `folder`."""
    resolved = dict(raw)
    for name, info in model.model_fields.items():
        value = raw.get(name)
        annotation = _unwrap(info.annotation)[0]
        if annotation is Path and isinstance(value, str) and value:
            resolved[name] = _joined(folder, value)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
            resolved[name] = _resolve_paths(value, annotation, folder)
    return resolved


def _resolve_tracking_uri(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`raw` with a relative `sqlite:///` mlflow.tracking_uri joined to `folder`."""
    mlflow = raw.get("mlflow")
    uri = mlflow.get("tracking_uri") if isinstance(mlflow, dict) else None
    if not isinstance(uri, str) or not uri.startswith(SQLITE_PREFIX):
        return raw
    database = uri.removeprefix(SQLITE_PREFIX)
    if Path(database).is_absolute():
        return raw
    return {**raw, "mlflow": {**mlflow, "tracking_uri": SQLITE_PREFIX + _joined(folder, database)}}


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merged deeply; lists and scalars of `override` replace the base's."""
    merged = dict(base)
    for key, value in override.items():
        both_mappings = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_mappings else value
    return merged


def _read_profile(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """One file's settings over those of the files it extends, paths resolved against each file's folder."""
    if path.resolve() in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path.resolve()))
        raise ConfigError(f"params file {path}: 'extends' forms a cycle: {cycle}")
    raw = _resolve_tracking_uri(_resolve_paths(_read_yaml(path), Params, path.parent), path.parent)
    extends = raw.pop("extends", None)
    if extends is None:
        return raw
    if not isinstance(extends, str) or not extends:
        raise ConfigError(f"params file {path}: 'extends' must be the path of a params file, got {_short(extends)}")
    parent = Path(_joined(path.parent, extends))
    if not parent.is_file():
        raise ConfigError(f"params file {path}: 'extends' names {parent}, which does not exist")
    return _merged(_read_profile(parent, (*chain, path.resolve())), raw)


def find_project_root(start: Path) -> Path:
    """The first folder at or above `start` that holds params.yaml (notebooks run from notebooks/)."""
    for folder in [start, *start.parents]:
        if (folder / "params.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no params.yaml in {start} or any parent folder")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and type-check a params file (and the files it extends)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path} (run from the project folder or pass --params)")
    return params_from_dict(_read_profile(path), source=str(path))


def params_json_schema() -> dict[str, Any]:
    """JSON schema of a params file for editors: every group and key with its type, bounds and description.
    Nothing is required, because a profile holds only what differs from the file it extends; loading checks
    the merged result."""
    schema = _without_required(Params.model_json_schema())
    schema["properties"] = {"extends": {"type": "string", "description": "A params file (relative to this "
                                        "one) whose settings this file overrides."}, **schema["properties"]}
    return schema


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


def params_json_schema_text() -> str:
    """The JSON schema as indented text."""
    return json.dumps(params_json_schema(), indent=2) + "\n"
