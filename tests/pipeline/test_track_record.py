import json

import pandas as pd
import pytest

from pipeline.common.artifacts import load_validated
from pipeline.common.config import params_from_dict
from pipeline.common.io import write_json
from pipeline.common.ledger import issued_list_of, record_issued_list, track_record_sentence
from pipeline.track_record import due_date, populations_at, run
from tests.conftest import customers_frame, small_params, transactions_frame

LIST_ORDER = ["M1", "M2", "M3", "S1", "S2", "F1", "F2", "F3", "F4", "F5"]
LIST_TIERS = "AAABBCCDDD"

# A key account spends at least 10,000 in 12 months. Before 2023-01-01 every customer is below the bar and bought in
# the last 6 months; S1, S2 and M1 spent most. In 2023 M1 and M2 cross the bar, nobody else does. The data runs to
# 2024-02-15, so the list of 2023-01-01 is due (2024-01-01) and that of 2023-06-01 is not (2024-06-01).
HISTORY = transactions_frame([
    ("S1", "1", "2022-09-01", "x", 5000.0, 10), ("S2", "2", "2022-09-02", "x", 4000.0, 10),
    ("M1", "3", "2022-09-03", "x", 3000.0, 10), ("M2", "4", "2022-09-04", "x", 100.0, 10),
    ("M3", "5", "2022-09-05", "x", 200.0, 10),
    *[(f"F{i}", f"F{i}", "2022-10-01", "x", 50.0, 10) for i in range(1, 6)],
    ("M1", "6", "2023-03-01", "x", 12000.0, 10), ("M2", "7", "2023-05-01", "x", 11000.0, 10),
    ("S1", "8", "2023-04-01", "x", 900.0, 10), ("M3", "9", "2023-07-01", "x", 300.0, 10),
    ("F1", "10", "2024-02-15", "x", 50.0, 10),
])


@pytest.fixture
def params(tmp_path):
    validated = tmp_path / "validated"
    validated.mkdir()
    HISTORY.assign(product_id=HISTORY["category"]).to_parquet(validated / "transactions.parquet", index=False)
    customers_frame(sorted(set(HISTORY["customer_id"]))).to_parquet(validated / "customers.parquet", index=False)
    write_json({}, validated / "quality.json")
    return params_from_dict(small_params(
        data={"validated_dir": str(validated), "scores_dir": str(tmp_path / "scores"),
              "track_record_file": str(tmp_path / "reports" / "track_record.json")},
        labels={"horizon_months": 12, "active_months": 6,
                "key_account": {"rule": "absolute", "absolute_amount": 10000.0, "trailing_months": 12}},
        evaluate={"k": [2, 5], "bootstrap_resamples": 200}))


def _issue(params, as_of: str, holdout: list[bool] | None = None) -> None:
    prospects = pd.DataFrame({"rank": range(1, 11), "customer_id": LIST_ORDER, "tier": list(LIST_TIERS),
                              "probability": [0.9 - 0.05 * i for i in range(10)]})
    if holdout is not None:
        prospects["holdout"] = holdout
    record_issued_list(params.data.scores_dir, issued_list_of(
        prospects, as_of, "key_account_potential", "3", params.evaluate.k, 0.3, params.seed))


def test_populations_at_each_as_of_have_training_s_eligibility_outcomes_and_365_day_spend(params):
    days = ["2023-01-01", "2023-06-01", "2022-01-01"]
    populations = populations_at(params, load_validated(params), days)
    january = populations[days[0]].set_index("customer_id")
    assert sorted(january.index) == sorted(LIST_ORDER)
    assert january.index[january["became_key_account"]].tolist() == ["M1", "M2"]
    assert january.loc["S1", "spend_rank_score"] == 5000.0 and january.loc["F3", "spend_rank_score"] == 50.0
    # by June M1 is a key account already (not eligible); S1 spent 5,900 in the 365 days before
    june = populations[days[1]].set_index("customer_id")
    assert "M1" not in june.index and june.loc["S1", "spend_rank_score"] == 5900.0
    assert populations[days[2]].empty  # before any transaction


def test_due_list_is_evaluated_against_spend_rank_and_the_other_is_pending(params):
    _issue(params, "2023-01-01", holdout=[False, False, True] + [False] * 7)
    _issue(params, "2023-06-01")
    record = run(params)

    [result] = record["evaluated"]
    tier_a = result["tier_a"]
    assert (tier_a["size"], tier_a["model"], tier_a["spend_rank"], tier_a["difference"]) == (3, 2, 1, 1)
    # top 2: M1, M2 against S1, S2; top 5: M1, M2, M3, S1, S2 against S1, S2, M1, M3, M2
    assert [(r["group"], r["model"], r["spend_rank"]) for r in result["top_k"]] == [("top 2", 2, 0), ("top 5", 2, 2)]
    assert (result["eligible"], result["key_accounts"]) == (10, 2)
    assert record["pending"] == [{"as_of": "2023-06-01", "model_version": "3", "due": "2024-06-01"}]
    assert (record["data_end"], record["issued_lists"]) == ("2024-02-16", 2)
    # the holdout: M1 and M2 handed to sales, both key accounts; M3 withheld, not one
    pooled = record["pooled_uplift"]
    assert (pooled["treated"], pooled["treated_key_accounts"], pooled["control"], pooled["control_key_accounts"]) == (
        2, 2, 1, 0)
    assert pooled["interval"] is None and "too few" in pooled["line"]

    sentence = track_record_sentence(record)
    assert sentence == ("Of the 3 accounts in tier A on 2023-01-01, 2 became key accounts within 12 months; ranking "
                        "by 12-month spend found 1 (difference +1; too few accounts for an interval).")
    target = params.data.track_record_file
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(json.dumps(record))
    markdown = target.with_suffix(".md").read_text(encoding="utf-8")
    assert sentence in markdown and "| 2023-06-01 | 3 | 2024-06-01 |" in markdown
    assert "| tier A | 3 | 2 | 67% | 1 | +1 | too few |" in markdown


def test_the_same_ledger_and_data_give_identical_files(params):
    _issue(params, "2023-01-01")
    run(params)
    target = params.data.track_record_file
    first = target.read_bytes(), target.with_suffix(".md").read_bytes()
    run(params)
    assert (target.read_bytes(), target.with_suffix(".md").read_bytes()) == first


def test_only_pending_lists_have_no_sentence_yet(params):
    _issue(params, "2023-06-01")
    record = run(params)
    assert record["evaluated"] == [] and track_record_sentence(record) is None
    assert record["summary"] == "1 issued list, 0 with a horizon that has passed; the next is due on 2024-06-01."


def test_no_issued_list_writes_a_record_saying_so(tmp_path):
    params = params_from_dict(small_params(data={"validated_dir": str(tmp_path / "nothing"),
                                                 "scores_dir": str(tmp_path / "scores"),
                                                 "track_record_file": str(tmp_path / "track_record.json")}))
    record = run(params)  # reads no table: there is none
    assert record["issued_lists"] == 0 and record["evaluated"] == [] and track_record_sentence(record) is None
    assert json.loads((tmp_path / "track_record.json").read_text(encoding="utf-8"))["summary"].startswith(
        "No list has been issued yet")
    assert (tmp_path / "track_record.md").read_text(encoding="utf-8").startswith("# Track record")


def test_due_date_is_the_end_of_the_horizon():
    assert due_date("2023-01-31", 1) == pd.Timestamp("2023-02-28")
    assert due_date("2023-01-01", 12) == pd.Timestamp("2024-01-01")


def test_several_due_lists_are_each_evaluated_at_their_own_day_and_the_newest_heads_the_report(params):
    for as_of in ["2023-02-01", "2023-01-01"]:
        _issue(params, as_of, holdout=[True, False, False] + [False] * 7)
    record = run(params)
    assert [result["as_of"] for result in record["evaluated"]] == ["2023-01-01", "2023-02-01"]
    assert track_record_sentence(record).startswith("Of the 3 accounts in tier A on 2023-02-01, 2 became key accounts")
    pooled = record["pooled_uplift"]
    assert (pooled["scope"], pooled["treated"], pooled["control"], pooled["control_key_accounts"]) == (
        "over the 2 lists with a holdout", 4, 2, 2)


def test_a_day_without_eligible_customers_has_an_empty_population(params):
    populations = populations_at(params, load_validated(params), ["2022-01-01"])
    assert populations["2022-01-01"].empty
    assert populations["2022-01-01"].columns.tolist() == ["customer_id", "became_key_account", "spend_rank_score"]


def test_kap_track_record_runs_the_stage_from_the_command_line(project, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    project(data={"validated_dir": str(tmp_path / "nothing"), "scores_dir": str(tmp_path / "scores"),
                  "track_record_file": str(tmp_path / "out" / "track_record.json")})
    result = CliRunner().invoke(app, ["track-record"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "track_record.json").read_text(encoding="utf-8"))["issued_lists"] == 0
    (tmp_path / "scores" / "ledger").mkdir(parents=True)
    (tmp_path / "scores" / "ledger" / "2024-01-01.json").write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["track-record"])
    assert result.exit_code == 2 and "2024-01-01.json" in result.stderr and "Traceback" not in result.output
