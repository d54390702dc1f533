import dataclasses
import json

import pandas as pd
import pytest

from pipeline.common.errors import DataError
from pipeline.common.ledger import (
    IssuedList,
    issued_list_of,
    issued_lists,
    ledger_file,
    list_hash,
    record_issued_list,
    track_record_sentence,
)


def _prospects(order: list[str], tiers: str, holdout: list[bool] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"rank": range(1, len(order) + 1), "customer_id": order, "tier": list(tiers),
                          "probability": [0.9 - 0.1 * i for i in range(len(order))]})
    return frame if holdout is None else frame.assign(holdout=holdout)


def _entry(as_of: str = "2023-01-01", order: str = "PQRSTU", tiers: str = "AABBCD", version: str = "3",
           holdout: list[bool] | None = None) -> IssuedList:
    return issued_list_of(_prospects(list(order), tiers, holdout), as_of, "key_account_potential", version,
                          ks=(3,), holdout_share=0.0 if holdout is None else 0.5, seed=42)


def test_list_hash_is_of_the_ids_in_rank_order_with_their_tiers():
    base = list_hash(_prospects(["P", "Q", "R"], "AAB"))
    assert base == list_hash(_prospects(["P", "Q", "R"], "AAB").iloc[::-1])  # rows ordered by rank, not position
    assert base != list_hash(_prospects(["Q", "P", "R"], "AAB"))
    assert base != list_hash(_prospects(["P", "Q", "R"], "ABB"))
    assert base == list_hash(_prospects(["P", "Q", "R"], "AAB").assign(probability=0.5))


def test_held_out_rows_are_not_in_the_list_handed_to_sales():
    held = _prospects(["P", "X", "Q", "R"], "AAAB", [False, True, False, False])
    handed = _prospects(["P", "X", "Q", "R"], "AAAB").drop(index=1)
    assert list_hash(held) == list_hash(handed)
    assert list_hash(held) != list_hash(held.drop(columns="holdout"))


def test_members_are_tier_a_and_the_top_k_with_their_holdout():
    entry = _entry(order="PQRSTU", tiers="AAAABD", holdout=[False, True, False, True, False, False])
    assert [(m.customer_id, m.rank, m.tier, m.holdout) for m in entry.members] == [
        ("P", 1, "A", False), ("Q", 2, "A", True), ("R", 3, "A", False), ("S", 4, "A", True)]
    assert entry.tier_counts == {"A": 4, "B": 1, "D": 1}
    assert _entry(order="PQRSTU", tiers="ABBBCD").members[-1].rank == 3  # the top 3 beyond tier A
    frame = entry.members_frame()
    assert frame.columns.tolist() == ["customer_id", "rank", "tier", "probability", "holdout"]
    assert frame["holdout"].tolist() == [False, True, False, True]


def test_recorded_list_reads_back_as_it_was(tmp_path):
    entry = _entry(holdout=[False, True, False, False, False, False])
    path = record_issued_list(tmp_path, entry)
    assert path == tmp_path / "ledger" / "2023-01-01.json"
    assert issued_lists(tmp_path) == [entry]


def test_same_list_again_leaves_the_file_byte_identical(tmp_path):
    path = record_issued_list(tmp_path, _entry())
    before, modified = path.read_bytes(), path.stat().st_mtime_ns
    assert record_issued_list(tmp_path, _entry(version="4")) == path  # same list from another version: the same list
    assert path.read_bytes() == before and path.stat().st_mtime_ns == modified


def test_another_list_at_the_same_as_of_replaces_it_and_notes_the_one_it_supersedes(tmp_path):
    first = _entry()
    record_issued_list(tmp_path, first)
    record_issued_list(tmp_path, _entry(order="QPRSTU", version="4"))
    record_issued_list(tmp_path, _entry(order="RPQSTU", version="5"))
    [latest] = issued_lists(tmp_path)
    assert latest.model_version == "5" and latest.members[0].customer_id == "R"
    assert [note["model_version"] for note in latest.supersedes] == ["3", "4"]
    assert latest.supersedes[0]["list_hash"] == first.list_hash


def test_lists_come_by_as_of_and_temporary_files_are_not_lists(tmp_path):
    assert issued_lists(tmp_path) == []
    for as_of in ["2023-03-01", "2023-01-01", "2023-02-01"]:
        record_issued_list(tmp_path, _entry(as_of=as_of))
    (tmp_path / "ledger" / ".2023-04-01.json.abc.tmp").write_text("{", encoding="utf-8")
    assert [entry.as_of for entry in issued_lists(tmp_path)] == ["2023-01-01", "2023-02-01", "2023-03-01"]


@pytest.mark.parametrize("content", [
    "{not json",
    "[]",
    json.dumps({"format": 1, "as_of": "2023-01-01"}),
    "mangled members",
    "a rank that is not a number",
    "another format",
])
def test_a_corrupt_ledger_file_is_a_data_error_naming_it(tmp_path, content):
    path = record_issued_list(tmp_path, _entry())
    data = json.loads(path.read_text(encoding="utf-8"))
    if content == "mangled members":
        content = json.dumps(data | {"members": [{"customer_id": "P"}]})
    elif content == "a rank that is not a number":
        content = json.dumps(data | {"members": [data["members"][0] | {"rank": "1"}]})
    elif content == "another format":
        content = json.dumps(data | {"format": 2})
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=r"2023-01-01\.json") as error:
        issued_lists(tmp_path)
    assert error.value.file == str(path)
    with pytest.raises(DataError, match=r"2023-01-01\.json"):  # recording over it does not silently drop it
        record_issued_list(tmp_path, _entry(order="QPRSTU"))


def test_a_ledger_file_under_another_date_is_refused(tmp_path):
    path = record_issued_list(tmp_path, _entry())
    path.rename(ledger_file(tmp_path, "2023-02-01"))
    with pytest.raises(DataError, match=r"2023-02-01\.json: holds the list issued at 2023-01-01"):
        issued_lists(tmp_path)


def test_members_out_of_rank_order_are_refused():
    entry = _entry()
    with pytest.raises(ValueError, match="rank order"):
        dataclasses.replace(entry, members=entry.members[::-1])


def test_sentence_for_the_sales_report_is_the_newest_evaluated_list():
    assert track_record_sentence({"evaluated": [], "pending": [{"as_of": "2024-01-01"}]}) is None
    record = {"evaluated": [{"as_of": "2023-02-01", "headline": "February."},
                            {"as_of": "2023-03-01", "headline": "March."},
                            {"as_of": "2023-01-01", "headline": "January."}]}
    assert track_record_sentence(record) == "March."
