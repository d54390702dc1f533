"""Params turned into library calls: the cutoffs and split, the spine, eligibility, labels and features.

Training and scoring both go through these, so the two cannot drift apart.
"""

from __future__ import annotations

import logging

import pandas as pd

from features.builder import build_features
from features.labels import build_labels, eligibility
from features.spine import customers_seen_before, monthly_cutoffs
from models.split import TimeSplit, time_split
from pipeline.common.config import Params
from pipeline.common.errors import ConfigError
from pipeline.common.validation import ValidatedTables

log = logging.getLogger(__name__)

CATEGORY_FAMILIES = ("categories", "expansion")  # families that read the category column


def data_end(transactions: pd.DataFrame) -> pd.Timestamp:
    """Exclusive end of observed time: midnight after the last transaction."""
    return pd.Timestamp(transactions["timestamp"].max()).normalize() + pd.Timedelta(days=1)


def earliest_cutoff(params: Params, transactions: pd.DataFrame) -> pd.Timestamp:
    """First month start with a full trailing window of history, so that the key-account bar and the
    activity rule at every cutoff see as much history as at the last one."""
    months = max(params.labels.key_account.trailing_months, params.labels.active_months)
    start = pd.Timestamp(transactions["timestamp"].min()).normalize() + pd.DateOffset(months=months)
    return start if start.day == 1 else start + pd.offsets.MonthBegin(1)


def labelled_cutoffs(params: Params, transactions: pd.DataFrame) -> list[pd.Timestamp]:
    """Monthly cutoffs with a full history window before them and a fully observed outcome window."""
    earliest = earliest_cutoff(params, transactions)
    configured = params.features.first_cutoff
    first = max(earliest, pd.Timestamp(configured)) if configured else earliest
    if configured and pd.Timestamp(configured) < earliest:
        log.warning("features.first_cutoff %s has less history than the trailing window: starting at %s",
                    configured, earliest.date())
    last = data_end(transactions) - pd.DateOffset(months=params.labels.horizon_months)
    cutoffs = monthly_cutoffs(first, last, params.features.cutoff_every_months)
    if not cutoffs:
        raise ConfigError(
            f"no cutoff between {first.date()} and {last.date()}: the data spans "
            f"{pd.Timestamp(transactions['timestamp'].min()).date()} to {data_end(transactions).date()}, "
            f"which is too short for the history window plus a {params.labels.horizon_months}-month horizon"
        )
    return cutoffs


def population_settings(params: Params) -> dict[str, str]:
    """The settings that define who is scored and what the features mean, as logged with a trained model: a
    model scores only under the same ones."""
    labels, key_account = params.labels, params.labels.key_account
    return {
        "labels.horizon_months": str(labels.horizon_months),
        "labels.active_months": str(labels.active_months),
        "labels.eligible_max_share_of_bar": str(labels.eligible_max_share_of_bar),
        "labels.key_account.rule": key_account.rule,
        "labels.key_account.revenue_share": str(key_account.revenue_share),
        "labels.key_account.top_share": str(key_account.top_share),
        "labels.key_account.absolute_amount": str(key_account.absolute_amount),
        "labels.key_account.trailing_months": str(key_account.trailing_months),
        "features.windows_days": str(list(params.features.windows_days)),
        "features.families": str(list(params.features.families) if params.features.families else None),
    }


def refuse_other_population(params: Params, trained: dict[str, str], model: str) -> None:
    """A ConfigError naming each population setting that differs from the one `model` was trained with (settings
    a model was logged without are not compared)."""
    current = population_settings(params)
    changed = [f"{key} is {current[key]} but {model} was trained with {trained[key]}"
               for key in current if key in trained and trained[key] != current[key]]
    if changed:
        raise ConfigError("params: " + "; ".join(changed) + ": set them back, or retrain (dvc repro / kap run-all)")


def split_of(params: Params, panel: pd.DataFrame, fold_test_cutoff: pd.Timestamp | None = None) -> TimeSplit:
    """The out-of-time split configured in params over the panel's cutoffs; for a backtest fold's test cutoff,
    the split whose validation cutoff follows from it. A split the params make impossible is a ConfigError."""
    cutoffs = sorted(pd.to_datetime(panel["cutoff"].unique()))
    cfg = params.split
    test, validation = (cfg.test_cutoff, cfg.validation_cutoff) if fold_test_cutoff is None else (
        fold_test_cutoff, None)
    try:
        return time_split(cutoffs, params.labels.horizon_months, test, validation, cfg.validation_gap_months)
    except ValueError as exc:
        raise ConfigError(f"split: {exc} (check split.test_cutoff, split.validation_cutoff, "
                          f"split.validation_gap_months and labels.horizon_months)") from exc


def training_spine(params: Params, transactions: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, cutoff) rows for training: customers seen before each labelled cutoff (scoring's spine is
    the same at its one as-of date)."""
    return customers_seen_before(transactions, labelled_cutoffs(params, transactions))


def eligibility_for(params: Params, transactions: pd.DataFrame, spine: pd.DataFrame) -> pd.DataFrame:
    """Who is eligible at each spine row, configured from params.labels (scoring uses this: no outcome needed)."""
    cfg = params.labels
    return eligibility(transactions, spine, cfg.key_account, cfg.active_months, cfg.eligible_max_share_of_bar)


def labels_for(params: Params, transactions: pd.DataFrame, spine: pd.DataFrame) -> pd.DataFrame:
    """Eligibility and label per spine row, configured from params.labels."""
    cfg = params.labels
    return build_labels(transactions, spine, cfg.key_account, cfg.horizon_months, cfg.active_months,
                        cfg.eligible_max_share_of_bar)


def features_for(params: Params, tables: ValidatedTables, spine: pd.DataFrame) -> pd.DataFrame:
    """The one feature builder, configured from params (training and scoring both call this): on this machine,
    or with `features.engine: spark` in Spark's executors over the validated transactions Parquet (a path every
    executor must reach, docs/spark.md)."""
    cfg = params.features
    _refuse_categories_without_categories(cfg.families, tables.transactions)
    if cfg.engine == "spark":
        from features.spark import build_features_spark  # PySpark loads only for this engine
        from pipeline.common.artifacts import validated_file
        from pipeline.common.spark import spark_session

        session = spark_session(cfg.spark)
        lines = session.read.parquet(str(validated_file(params.data.validated_dir, "transactions").resolve()))
        cores = session.sparkContext.defaultParallelism  # buckets in whole waves of tasks
        buckets = cores * -(-len(tables.transactions) // (cfg.spark.lines_per_bucket * cores))
        log.info("building features on Spark (%s), %s buckets of customers", session.sparkContext.master, buckets)
        return build_features_spark(lines, tables.customers, spine, cfg.windows_days, tables.firmographics,
                                    cfg.families, buckets)
    return build_features(
        tables.transactions, tables.customers, spine, cfg.windows_days, tables.firmographics, cfg.families
    )


def _refuse_categories_without_categories(families: tuple[str, ...] | None, transactions: pd.DataFrame) -> None:
    """Data without a category column gets each product as its category (validate): the category families
    would then repeat the products family under a misleading name ("top category" in a sales reason)."""
    wanted = [family for family in CATEGORY_FAMILIES if families is None or family in families]
    if wanted and transactions["category"].eq(transactions["product_id"]).all():
        raise ConfigError(
            f"features.families: {', '.join(wanted)} need product categories, but every transaction's category "
            f"is its product id (the transactions map no category column); list features.families without "
            f"{' and '.join(wanted)}"
        )
