"""Stage labels: eligibility and the became-a-key-account label at every labelled cutoff."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.build_features import training_spine
from pipeline.config import Params
from pipeline.io import atomic_dir, read_parquet
from pipeline.timeline import labels_for
from pipeline.validate import load_validated

log = logging.getLogger(__name__)

LABELS_FILE = "labels.parquet"



def run(params: Params) -> pd.DataFrame:
    """Stage entry: eligibility and label per (customer, cutoff), written atomically to data.labels_dir."""
    tables = load_validated(params)
    labels = labels_for(params, tables.transactions, training_spine(params, tables))
    eligible = labels[labels["eligible"]]
    log.info(
        "%s eligible rows, %.2f%% become key accounts", len(eligible), 100 * eligible["became_key_account"].mean()
    )
    with atomic_dir(params.data.labels_dir) as tmp:
        labels.to_parquet(tmp / LABELS_FILE, index=False)
    return labels


def load_labels(params: Params) -> pd.DataFrame:
    """The labels stage's table."""
    return read_parquet(params.data.labels_dir / LABELS_FILE)
