"""Stage features: point-in-time feature snapshots at every labelled monthly cutoff."""

from __future__ import annotations

import logging

import pandas as pd

from features.builder import build_features
from features.spine import customers_seen_before
from pipeline.config import Params
from pipeline.errors import ConfigError
from pipeline.io import atomic_dir, read_parquet
from pipeline.timeline import labelled_cutoffs
from pipeline.validate import ValidatedTables, load_validated

log = logging.getLogger(__name__)

FEATURES_FILE = "features.parquet"
CATEGORY_FAMILIES = ("categories", "expansion")  # families that read the category column


def training_spine(params: Params, tables: ValidatedTables) -> pd.DataFrame:
    """(customer_id, cutoff) rows for training: customers seen before each labelled cutoff."""
    return customers_seen_before(tables.transactions, labelled_cutoffs(params, tables.transactions))


def features_for(params: Params, tables: ValidatedTables, spine: pd.DataFrame) -> pd.DataFrame:
    """The one feature builder, configured from params (training and scoring both call this)."""
    cfg = params.features
    _refuse_categories_without_categories(cfg.families, tables.transactions)
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


def run(params: Params) -> pd.DataFrame:
    """Stage entry: feature snapshots of the training spine, written atomically to data.features_dir."""
    tables = load_validated(params)
    spine = training_spine(params, tables)
    log.info("building features for %s rows over %s cutoffs", len(spine), spine["cutoff"].nunique())
    frame = features_for(params, tables, spine)
    with atomic_dir(params.data.features_dir) as tmp:
        frame.to_parquet(tmp / FEATURES_FILE, index=False)
    return frame


def load_features(params: Params) -> pd.DataFrame:
    """The features stage's snapshots."""
    return read_parquet(params.data.features_dir / FEATURES_FILE)
