"""Fingerprints that say "the same": SHA-256 of a file, of a set of data files, of a set of settings.

Training records them (the model's part files, the data it learnt from, the params that shaped it), so a
registry version can be checked before it is loaded and the same training is not registered twice; scoring
records them in its manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

# part of every params hash: a change of what the fingerprints cover (or how) makes older ones differ
FINGERPRINT_SCHEMA = 1

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (a file of any size in constant memory)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_fingerprint(paths: Iterable[Path]) -> str:
    """Hex SHA-256 over each file's name and content hash, in name order: the same files (by name and bytes)
    give the same fingerprint wherever they lie and in whatever order they are given."""
    entries = sorted(f"{Path(path).name}\t{file_sha256(path)}" for path in paths)
    return hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()


def params_hash(settings: Mapping) -> str:
    """Hex SHA-256 of the settings as canonical JSON (keys sorted, no whitespace; dates and paths as text)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
