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
from pipeline.common.runs import completed_runs, latest_run, run_folder

log = logging.getLogger(__name__)

def run_to_render(scores_dir: Path, as_of: str | None = None) -> Path:
    """The run folder of `as_of` (YYYY-MM-DD) under `scores_dir`/runs, by default the latest run."""
    if as_of is None:
        return latest_run(scores_dir)
    try:
        day = date.fromisoformat(as_of) if len(as_of) == len("YYYY-MM-DD") else None
    except ValueError:
        day = None
    if day is None:
        raise UserInputError(f"--as-of {as_of!r} is not a date; write YYYY-MM-DD")
    if day.isoformat() not in completed_runs(scores_dir):
        runs = ", ".join(completed_runs(scores_dir)) or "none"
        raise DataError(str(run_folder(scores_dir, day.isoformat())), None,
                        f"no complete scoring run for {day}; runs: {runs}")
    return run_folder(scores_dir, day.isoformat())


def run(params: Params, as_of: str | None = None) -> Path:
    """Render report.html of the run at `as_of` (default the latest) and return its path."""
    page = write_sales_report(run_to_render(params.data.scores_dir, as_of))
    log.info("wrote %s", page)
    return page
