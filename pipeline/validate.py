"""Stage validate: raw exports → typed, cleaned Parquet tables and a data-quality report (rules in
pipeline/common/validation.py)."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.common.artifacts import QUALITY_JSON, QUALITY_MARKDOWN, validated_file
from pipeline.common.config import Params
from pipeline.common.io import atomic_dir, write_json
from pipeline.common.quality import quality_markdown
from pipeline.common.validation import TABLE_MODELS, ValidatedTables, read_sources, validate_tables

log = logging.getLogger(__name__)


def run(params: Params) -> ValidatedTables:
    """Read the raw files, validate, write the validated folder and the data-quality report atomically."""
    tables = validate_tables(read_sources(params), params.data.files, pd.Timestamp.now().normalize())
    with atomic_dir(params.data.validated_dir) as tmp:
        for table in TABLE_MODELS:
            frame = getattr(tables, table)
            if frame is not None:
                frame.to_parquet(validated_file(tmp, table), index=False)
        write_json(tables.quality, tmp / QUALITY_JSON)
    with atomic_dir(params.data.quality_dir) as tmp:
        write_json(tables.quality, tmp / QUALITY_JSON)
        (tmp / QUALITY_MARKDOWN).write_text(quality_markdown(tables.quality), encoding="utf-8")
    log.info("validated %s transaction lines of %s customers; report in %s", len(tables.transactions),
             len(tables.customers), params.data.quality_dir / QUALITY_MARKDOWN)
    return tables


