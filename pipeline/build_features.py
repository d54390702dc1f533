"""Stage features: point-in-time feature snapshots at every labelled monthly cutoff."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.common.adapters import features_for, training_spine
from pipeline.common.artifacts import FEATURES_FILE, load_validated
from pipeline.common.config import Params
from pipeline.common.io import atomic_dir

log = logging.getLogger(__name__)


def run(params: Params) -> pd.DataFrame:
    """Stage entry: feature snapshots of the training spine, written atomically to data.features_dir."""
    tables = load_validated(params)
    spine = training_spine(params, tables.transactions)
    log.info("building features for %s rows over %s cutoffs", len(spine), spine["cutoff"].nunique())
    frame = features_for(params, tables, spine)
    with atomic_dir(params.data.features_dir) as tmp:
        frame.to_parquet(tmp / FEATURES_FILE, index=False)
    return frame
