"""Scoring runs on disk: complete runs, the latest pointer, pruning, the lock and the free-space check."""

import contextlib
import multiprocessing
import time
from pathlib import Path

import pytest

from pipeline.common.errors import DataError, PipelineError
from pipeline.common.io import atomic_dir, write_json
from pipeline.common.runs import (
    LATEST,
    MANIFEST_FILE,
    RunLockedError,
    check_free_space,
    completed_runs,
    latest_run,
    point_latest,
    previous_run,
    prune_runs,
    run_folder,
    runs_dir,
    scoring_lock,
)


def _complete(scores, as_of: str) -> None:
    with atomic_dir(run_folder(scores, as_of)) as tmp:
        write_json({"as_of": as_of}, tmp / MANIFEST_FILE)


def test_only_folders_with_a_manifest_are_runs_and_latest_follows_the_newest(tmp_path):
    for as_of in ("2024-03-01", "2024-01-01", "2024-02-01"):
        _complete(tmp_path, as_of)
    (runs_dir(tmp_path) / "2024-04-01").mkdir()  # no manifest: a run killed before it finished
    (runs_dir(tmp_path) / "notes").mkdir()
    assert completed_runs(tmp_path) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    point_latest(tmp_path)
    assert (runs_dir(tmp_path) / LATEST).readlink().name == "2024-03-01"
    assert latest_run(tmp_path) == run_folder(tmp_path, "2024-03-01").resolve()
    assert previous_run(tmp_path, "2024-03-01") == run_folder(tmp_path, "2024-02-01")
    assert previous_run(tmp_path, "2024-01-01") is None
    _complete(tmp_path, "2023-12-01")  # a backfill does not move latest
    point_latest(tmp_path)
    assert (runs_dir(tmp_path) / LATEST).readlink().name == "2024-03-01"


def test_latest_without_a_pointer_is_the_newest_run_and_without_runs_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no complete scoring run: run `kap score` first"):
        latest_run(tmp_path)
    _complete(tmp_path, "2024-01-01")
    _complete(tmp_path, "2024-05-01")
    assert latest_run(tmp_path) == run_folder(tmp_path, "2024-05-01")


def test_pruning_keeps_the_newest_runs_and_removes_leftovers_of_killed_runs(tmp_path):
    for month in range(1, 6):
        _complete(tmp_path, f"2024-0{month}-01")
    leftover = runs_dir(tmp_path) / ".2024-06-01.abcd"
    leftover.mkdir()
    point_latest(tmp_path)
    assert prune_runs(tmp_path, 2) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert completed_runs(tmp_path) == ["2024-04-01", "2024-05-01"]
    assert not leftover.exists() and (runs_dir(tmp_path) / LATEST).is_symlink()
    _complete(tmp_path, "2023-12-01")  # a backfill older than every kept run stays until the next run
    assert prune_runs(tmp_path, 2, keep_also="2023-12-01") == []
    assert prune_runs(tmp_path, 2) == ["2023-12-01"]


def _hold_lock(folder, ready, release):
    with scoring_lock(folder):
        ready.set()
        release.wait(30)


@contextlib.contextmanager
def _lock_held_elsewhere(folder):
    """A second process holding the scoring lock of `folder`: yields it and the event that lets it go."""
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(folder, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        yield holder, release
    finally:
        if holder.is_alive():  # a killed holder may leave the event's own lock taken: setting it would hang
            release.set()
        holder.join(30)


def test_a_second_run_is_refused_with_exit_75_or_waits_for_the_first(tmp_path):
    with _lock_held_elsewhere(tmp_path) as (_, release):
        with pytest.raises(RunLockedError, match="another scoring run holds") as refused, scoring_lock(tmp_path):
            pass
        assert refused.value.exit_code == 75
        started = time.monotonic()
        with pytest.raises(RunLockedError, match=r"after waiting 0\.3 s"), scoring_lock(tmp_path, wait_seconds=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        release.set()
        with scoring_lock(tmp_path, wait_seconds=30):
            pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    with _lock_held_elsewhere(tmp_path) as (holder, _):
        holder.kill()
        holder.join(30)
        with scoring_lock(tmp_path):
            pass


def test_too_little_free_space_is_refused_before_any_work_naming_the_setting(tmp_path):
    check_free_space(tmp_path / "not" / "yet", 0)
    with pytest.raises(PipelineError, match=r"less than score.min_free_mb \(2147483647 MB\)"):
        check_free_space(tmp_path / "scores", 2**31 - 1)


def test_a_scores_dir_that_is_a_file_or_cannot_be_written_is_a_data_error_naming_the_setting(tmp_path):
    (tmp_path / "afile").write_text("x")
    for scores in (tmp_path / "afile", Path("/proc/kap-scores")):
        with pytest.raises(DataError, match=r"cannot take the scoring lock there .*data.scores_dir must be a "
                                            r"folder this user can write") as refused, scoring_lock(scores):
            pass
        assert refused.value.exit_code == 2
