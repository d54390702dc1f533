"""The ledger of issued lists: what sales received at each as-of date, kept so that `kap track-record` can
evaluate each list once its horizon has passed, long after its scoring run was pruned.

One JSON file per as-of date under `scores_dir/ledger/` (never pruned). A file holds the list's hash, its tier
counts and its members: every customer of tier A and the top max(evaluate.k), with rank, tier, probability and
whether the customer was held out of the list handed to sales (the control group of the uplift).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.common.errors import DataError
from pipeline.common.io import read_json, write_json

LEDGER_DIR = "ledger"
LEDGER_FORMAT = 1  # the layout of a ledger file; a file of another layout is refused, not guessed at
MEMBER_COLUMNS = ["customer_id", "rank", "tier", "probability", "holdout"]


@dataclass(frozen=True)
class Member:
    """One customer of an issued list as the ledger keeps it."""

    customer_id: str
    rank: int
    tier: str
    probability: float
    holdout: bool


@dataclass(frozen=True)
class IssuedList:
    """One issued list: when, by which model, its hash and tiers, and the members its evaluation needs.

    `supersedes` notes each list this one replaced at the same as-of date (its hash and model version)."""

    as_of: str
    model_name: str
    model_version: str
    list_hash: str
    tier_counts: dict[str, int]
    members: tuple[Member, ...]
    holdout_share: float
    seed: int
    supersedes: tuple[dict[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        dt.date.fromisoformat(self.as_of)  # ValueError for anything but YYYY-MM-DD
        ranks = [member.rank for member in self.members]
        if ranks != sorted(ranks) or len(set(ranks)) != len(ranks):
            raise ValueError("members must be in rank order with distinct ranks")

    def members_frame(self) -> pd.DataFrame:
        """The members as a table (columns MEMBER_COLUMNS, in rank order)."""
        return pd.DataFrame([dataclasses.astuple(member) for member in self.members], columns=MEMBER_COLUMNS).astype(
            {"customer_id": "str", "rank": "int64", "tier": "str", "probability": "float64", "holdout": "bool"})

    def to_dict(self) -> dict[str, Any]:
        """The ledger file's content."""
        return {"format": LEDGER_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssuedList:
        """An entry from a ledger file's content; KeyError, TypeError or ValueError when it is not one."""
        if data.get("format") != LEDGER_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {LEDGER_FORMAT}")
        members = tuple(Member(customer_id=_typed(m["customer_id"], str), rank=_typed(m["rank"], int),
                               tier=_typed(m["tier"], str), probability=float(_typed(m["probability"], int | float)),
                               holdout=_typed(m["holdout"], bool)) for m in data["members"])
        tier_counts = {_typed(tier, str): _typed(count, int) for tier, count in data["tier_counts"].items()}
        supersedes = tuple({"list_hash": _typed(note["list_hash"], str),
                            "model_version": _typed(note["model_version"], str)} for note in data["supersedes"])
        return cls(as_of=_typed(data["as_of"], str), model_name=_typed(data["model_name"], str),
                   model_version=_typed(data["model_version"], str), list_hash=_typed(data["list_hash"], str),
                   tier_counts=tier_counts, members=members,
                   holdout_share=float(_typed(data["holdout_share"], int | float)), seed=_typed(data["seed"], int),
                   supersedes=supersedes)


def _typed(value: Any, kind: type | Any) -> Any:
    # bool is an int to isinstance: a rank or count of true would pass unnoticed
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"{value!r} is not of type {kind}")
    return value


def list_hash(prospects: pd.DataFrame) -> str:
    """SHA-256 of the list as handed to sales: customer ids in rank order with their tiers. Rows held out of the
    list (a true `holdout` column) are not handed to sales and so are not part of it."""
    handed = prospects if "holdout" not in prospects.columns else prospects[~prospects["holdout"].astype(bool)]
    ordered = handed.sort_values("rank", kind="stable")
    pairs = [[str(customer), str(tier)] for customer, tier in zip(ordered["customer_id"], ordered["tier"], strict=True)]
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


def issued_list_of(prospects: pd.DataFrame, as_of: str, model_name: str, model_version: str, ks: Sequence[int],
                   holdout_share: float, seed: int) -> IssuedList:
    """The ledger entry of a scored list (columns rank, customer_id, tier, probability and, with a holdout,
    holdout): its hash and tier counts, and as members every customer of tier A and the top max(ks)."""
    frame = prospects.sort_values("rank", kind="stable")
    holdout = frame["holdout"].astype(bool) if "holdout" in frame.columns else pd.Series(False, index=frame.index)
    kept = (frame["tier"] == "A") | (frame["rank"] <= max(ks))
    members = tuple(Member(str(customer), int(rank), str(tier), float(probability), bool(held))
                    for customer, rank, tier, probability, held in zip(
                        frame.loc[kept, "customer_id"], frame.loc[kept, "rank"], frame.loc[kept, "tier"],
                        frame.loc[kept, "probability"], holdout[kept], strict=True))
    counts = frame["tier"].astype("str").value_counts()
    return IssuedList(as_of=as_of, model_name=model_name, model_version=str(model_version),
                      list_hash=list_hash(frame),
                      tier_counts={tier: int(counts[tier]) for tier in sorted(counts.index)},
                      members=members, holdout_share=float(holdout_share), seed=int(seed))


def ledger_dir(scores_dir: Path) -> Path:
    """The folder of the ledger inside data.scores_dir."""
    return Path(scores_dir) / LEDGER_DIR


def ledger_file(scores_dir: Path, as_of: str) -> Path:
    """The ledger file of the list issued at `as_of` (YYYY-MM-DD)."""
    return ledger_dir(scores_dir) / f"{as_of}.json"


def read_entry(path: Path) -> IssuedList:
    """One ledger file; a missing, unreadable or malformed file is a DataError naming it."""
    data = read_json(path)
    try:
        if not isinstance(data, dict):
            raise TypeError("the file does not hold a JSON object")
        entry = IssuedList.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(str(path), None, f"is not a ledger entry of an issued list ({type(exc).__name__}: {exc}): "
                                         "restore it from a backup, or move it out of the ledger folder to leave "
                                         "that list out of the track record") from exc
    if entry.as_of != path.stem:
        raise DataError(str(path), None, f"holds the list issued at {entry.as_of}, but a ledger file is named by "
                                         "its as-of date: restore the file under its own name")
    return entry


def record_issued_list(scores_dir: Path, entry: IssuedList) -> Path:
    """Record `entry` in the ledger, atomically, and return its file. The same list (hash) at the same as-of date
    leaves the file untouched; a different one replaces it and notes the replaced list in `supersedes`."""
    path = ledger_file(scores_dir, entry.as_of)
    if path.exists():
        previous = read_entry(path)
        if previous.list_hash == entry.list_hash:
            return path
        note = {"list_hash": previous.list_hash, "model_version": previous.model_version}
        entry = dataclasses.replace(entry, supersedes=(*previous.supersedes, note))
    return write_json(entry.to_dict(), path)


def issued_lists(scores_dir: Path) -> list[IssuedList]:
    """Every recorded list, by as-of date (none without a ledger folder); a corrupt file is a DataError naming it.
    Temporary files of an interrupted write (starting with a dot) are not entries."""
    folder = ledger_dir(scores_dir)
    if not folder.is_dir():
        return []
    files = sorted(path for path in folder.glob("*.json") if not path.name.startswith("."))
    return sorted((read_entry(path) for path in files), key=lambda entry: entry.as_of)


def track_record_sentence(record: dict) -> str | None:
    """The sales report's header line: the newest evaluated list's result in one plain sentence, from the track
    record (`kap track-record`); None while no issued list is due."""
    evaluated = record.get("evaluated") or []
    if not evaluated:
        return None
    return max(evaluated, key=lambda result: result["as_of"])["headline"]
