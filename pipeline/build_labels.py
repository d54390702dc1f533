"""Stage labels: eligibility and the became-a-key-account label at every labelled cutoff."""

from __future__ import annotations

import logging

import pandas as pd

from features.labels import TARGET
from pipeline.common.adapters import labels_for, training_spine
from pipeline.common.artifacts import LABELS_FILE, load_validated
from pipeline.common.config import Params
from pipeline.common.io import atomic_dir

log = logging.getLogger(__name__)


def run(params: Params) -> pd.DataFrame:
    """Stage entry: eligibility and label per (customer, cutoff), written atomically to data.labels_dir."""
    tables = load_validated(params)
    labels = labels_for(params, tables.transactions, training_spine(params, tables.transactions))
    eligible = labels[labels["eligible"]]
    log.info("%s eligible rows, %.2f%% become key accounts", len(eligible), 100 * eligible[TARGET].mean())
    with atomic_dir(params.data.labels_dir) as tmp:
        labels.to_parquet(tmp / LABELS_FILE, index=False)
    return labels
