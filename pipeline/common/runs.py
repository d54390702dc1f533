"""Scoring runs on disk: one folder per as-of date under data.scores_dir/runs, the `latest` pointer, pruning,
the lock that keeps two scheduled runs apart and the free-space check made before any heavy work.

A run folder is complete when it holds its manifest (run.json): folders are written whole and renamed into
place, so a killed run leaves the previous runs and `latest` as they were.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from pipeline.common.errors import DataError, PipelineError

RUNS_DIR = "runs"
LATEST = "latest"
MANIFEST_FILE = "run.json"
LOCK_FILE = ".scoring.lock"
RUN_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RunLockedError(PipelineError):
    """Another scoring run holds the lock (exit 75, EX_TEMPFAIL: a scheduler may retry later)."""

    exit_code = 75


def runs_dir(scores_dir: Path) -> Path:
    """The folder of all runs inside data.scores_dir."""
    return Path(scores_dir) / RUNS_DIR


def run_folder(scores_dir: Path, as_of: str) -> Path:
    """The folder of the run at `as_of` (YYYY-MM-DD)."""
    return runs_dir(scores_dir) / as_of


def completed_runs(scores_dir: Path) -> list[str]:
    """The as-of dates of the complete runs (a folder named by its date that holds a manifest), oldest first."""
    folder = runs_dir(scores_dir)
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir()
                  if RUN_NAME.match(entry.name) and not entry.is_symlink() and (entry / MANIFEST_FILE).is_file())


def previous_run(scores_dir: Path, as_of: str) -> Path | None:
    """The newest complete run before `as_of`, which rank movement and what-changed compare with."""
    earlier = [name for name in completed_runs(scores_dir) if name < as_of]
    return run_folder(scores_dir, earlier[-1]) if earlier else None


def latest_run(scores_dir: Path) -> Path:
    """The run `latest` points at (the newest complete one when the pointer is missing); a DataError when there
    is no run yet."""
    pointer = runs_dir(scores_dir) / LATEST
    if pointer.is_dir() and (pointer / MANIFEST_FILE).is_file():
        return pointer.resolve()
    names = completed_runs(scores_dir)
    if not names:
        raise DataError(str(runs_dir(scores_dir)), None, "holds no complete scoring run: run `kap score` first")
    return run_folder(scores_dir, names[-1])


def point_latest(scores_dir: Path) -> Path | None:
    """Point `runs/latest` (a relative symlink, replaced atomically) at the newest complete run; a backfill of
    an older as-of date leaves it where it was."""
    names = completed_runs(scores_dir)
    if not names:
        return None
    pointer = runs_dir(scores_dir) / LATEST
    staged = pointer.with_name(f".{LATEST}.{os.getpid()}")
    staged.unlink(missing_ok=True)
    staged.symlink_to(names[-1], target_is_directory=True)
    os.replace(staged, pointer)
    return pointer


def prune_runs(scores_dir: Path, keep: int, keep_also: str | None = None) -> list[str]:
    """Remove all but the newest `keep` complete runs (and `keep_also`, the run just written, even when it is an
    older backfill), and folders left by killed runs; the removed as-of dates. The ledger is never pruned."""
    folder = runs_dir(scores_dir)
    names = completed_runs(scores_dir)
    removed = [name for name in names[:-keep] if name != keep_also]
    for name in removed:
        shutil.rmtree(run_folder(scores_dir, name))
    if folder.is_dir():
        for leftover in folder.iterdir():  # the temporary folders of atomic writes that a kill interrupted
            if leftover.name.startswith(".") and leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
    return removed


@contextlib.contextmanager
def scoring_lock(scores_dir: Path, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold the scores_dir lock for one scoring run. Without `wait_seconds` a held lock fails at once with
    RunLockedError (exit 75); with it, the run waits that long first. The lock is released when its process
    ends, so a killed run never leaves a stale lock. A scores_dir that is not a writable folder is a DataError."""
    path = Path(scores_dir) / LOCK_FILE
    lock = FileLock(path, timeout=0 if wait_seconds is None else wait_seconds)
    try:
        Path(scores_dir).mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        waited = "" if wait_seconds is None else f" after waiting {wait_seconds:g} s"
        raise RunLockedError(f"another scoring run holds {path}{waited}: try again later, or pass --wait "
                             "SECONDS") from None
    except OSError as exc:
        raise DataError(str(scores_dir), None, f"cannot take the scoring lock there ({exc.strerror or exc}): "
                                               "data.scores_dir must be a folder this user can write") from None
    try:
        yield
    finally:
        lock.release()


def check_free_space(scores_dir: Path, min_free_mb: int) -> None:
    """Refuse to start when the disk of scores_dir has less than `min_free_mb` free (score.min_free_mb), before
    minutes of work end in a half-written run."""
    existing = Path(scores_dir).absolute()
    while not existing.exists():
        existing = existing.parent
    free_mb = shutil.disk_usage(existing).free // 2**20
    if free_mb < min_free_mb:
        raise PipelineError(f"{existing} has {free_mb} MB free, less than score.min_free_mb ({min_free_mb} MB): "
                            "free some space (old runs under runs/ are pruned by score.keep_runs)")
