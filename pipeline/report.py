"""Operation report: re-render a scoring run's sales page, data.scores_dir/runs/<as-of>/report.html, from the
run folder's prospects, monthly spend and manifest (`kap report [--as-of YYYY-MM-DD]`).

Without an as-of date it renders the run the `latest` pointer names, or the newest run folder by name when there is
no pointer.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from pipeline.common.config import Params
from pipeline.common.errors import DataError, UserInputError
from pipeline.common.report import write_sales_report

log = logging.getLogger(__name__)

RUNS_DIR = "runs"
LATEST = "latest"


def run_folder(scores_dir: Path, as_of: str | None = None) -> Path:
    """The run folder of `as_of` (YYYY-MM-DD) under `scores_dir`/runs, by default the latest run."""
    runs = Path(scores_dir) / RUNS_DIR
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of) if len(as_of) == len("YYYY-MM-DD") else None
        except ValueError:
            day = None
        if day is None:
            raise UserInputError(f"--as-of {as_of!r} is not a date; write YYYY-MM-DD")
        folder = runs / day.isoformat()
        if not folder.is_dir():
            raise DataError(str(folder), None, f"no scoring run for {day}; runs: {_listing(runs)}")
        return folder
    latest = runs / LATEST
    if latest.is_dir():
        return latest.resolve()
    folders = sorted(p for p in runs.glob("*") if p.is_dir() and not p.name.startswith(".") and p.name != LATEST)
    if not folders:
        raise DataError(str(runs), None, "no scoring runs yet: run `kap score` first")
    return folders[-1]


def _listing(runs: Path) -> str:
    names = sorted(p.name for p in runs.glob("*") if p.is_dir() and not p.name.startswith(".") and p.name != LATEST)
    return ", ".join(names) if names else "none"


def run(params: Params, as_of: str | None = None) -> Path:
    """Render report.html of the run at `as_of` (default the latest) and return its path."""
    page = write_sales_report(run_folder(params.data.scores_dir, as_of))
    log.info("wrote %s", page)
    return page
