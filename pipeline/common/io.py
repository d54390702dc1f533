"""Disk I/O for the stages: atomic writes, table reading, safe exports.

Every write goes to a temporary file in the target folder and is moved into place with `os.replace`,
so a failed run never leaves a half-written output and the last good output stays in place.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.common.errors import DataError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters a reader cannot see but that change what is shown: Unicode bidirectional embeddings, overrides and
# isolates ("Acme \u202egnp.exe" displays as "Acme exe.png"), and the C0 and C1 control characters but tab, line
# feed and carriage return (a NUL makes tools take a CSV for binary).
HIDDEN_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _permissions_as_created(path: Path, mode: int) -> None:
    """Give a temporary file or folder the permissions a plain write would (`mode` less the umask): mkstemp and
    mkdtemp make them private, which would keep a shared drive's readers out of every output."""
    os.chmod(path, mode & ~_umask())


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it replaces `target` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    _permissions_as_created(tmp, 0o666)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces the folder `target` as a whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    _permissions_as_created(tmp, 0o777)
    old = target.with_name(f".{target.name}.old")
    try:
        yield tmp
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_atomic(target: str | Path, write: Callable[[Path], Any]) -> Path:
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def write_json(data: Any, target: str | Path) -> Path:
    """Write JSON atomically, pretty-printed and key-sorted so diffs stay readable."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return _write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_text(text: str, target: str | Path) -> Path:
    """Write a text file atomically."""
    return _write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def show_control_characters(text: str) -> str:
    """`text` with each bidirectional or other control character (HIDDEN_CONTROLS) made visible as its code
    point, "[U+202E]", so the characters read in the order they are stored."""
    return HIDDEN_CONTROLS.sub(lambda match: f"[U+{ord(match.group()):04X}]", text)


def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or column.dtype == object


def safe_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of `frame` whose text cells show their control characters (`show_control_characters`)."""
    safe = frame.copy()
    for column in safe.columns:
        if _is_text(safe[column]):
            safe[column] = safe[column].map(lambda v: show_control_characters(v) if isinstance(v, str) else v)
    return safe


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of `frame` whose text cells cannot run as spreadsheet formulas (prefixed with a quote)."""
    safe = frame.copy()
    for column in safe.columns:
        if _is_text(safe[column]):
            text = safe[column].astype("str")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False) & safe[column].notna()
            safe[column] = safe[column].where(~risky, "'" + text)
    return safe


def write_csv_export(frame: pd.DataFrame, target: str | Path) -> Path:
    """Write a CSV meant for people and spreadsheets: UTF-8 with BOM, formulas neutralised, control characters
    shown."""
    safe = neutralise_formulas(safe_text_frame(frame))
    return _write_atomic(target, lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8-sig"))


def markdown_cell(value: Any) -> str:
    """Text from input data made safe for a Markdown table cell: HTML escaped, pipes escaped, one line."""
    text = html.escape(str(value), quote=False)
    return " ".join(text.replace("|", "\\|").split())


def _read_stage_output(path: str | Path, kind: str, read: Callable[[Path], Any]) -> Any:
    """`read(path)`, a missing or unreadable file of an earlier stage raised as a DataError that names it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), None, "file not found (did the previous stage run? try `dvc repro`)")
    try:
        return read(path)
    except Exception as exc:  # the readers raise several types for corrupt files
        raise DataError(str(path), None, f"cannot be read as {kind}: {exc}") from exc


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file, turning a missing or unreadable file into a DataError that names it."""
    return _read_stage_output(path, "Parquet", pd.read_parquet)


def read_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """Read a CSV table written by an earlier stage (pandas options), errors as for read_parquet."""
    return _read_stage_output(path, "CSV", lambda file: pd.read_csv(file, **options))


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by an earlier stage, errors as for read_parquet."""
    return _read_stage_output(path, "JSON", lambda file: json.loads(file.read_text(encoding="utf-8")))
