"""Stage track-record: every issued list whose horizon has passed, against what happened.

For each list in the ledger (data.scores_dir/ledger) whose as-of date plus labels.horizon_months lies within the data,
the outcomes and the eligible population at its as-of date come from today's validated tables under the rules
training uses (labels_for), and the spend-rank list of that day is recomputed from the data before it. Lists not yet
due are listed as pending with their due date. Written to data.track_record_file (JSON) and a Markdown file beside
it, atomically.
"""

from __future__ import annotations

import logging

import pandas as pd

from features.builder import build_features
from features.labels import TARGET
from features.spine import customers_seen_before
from models.baselines import spend_rank_score
from models.rankings import SPEND_RANK_WINDOW_DAYS
from models.track_record import SPEND_SCORE, Bootstrap, evaluate_list, pooled_uplift, signed
from pipeline.common.adapters import data_end, labels_for
from pipeline.common.artifacts import load_validated
from pipeline.common.config import Params
from pipeline.common.io import markdown_cell, write_json, write_text
from pipeline.common.ledger import IssuedList, issued_lists
from pipeline.common.validation import ValidatedTables

log = logging.getLogger(__name__)


def due_date(as_of: str, horizon_months: int) -> pd.Timestamp:
    """The first day on which a list issued at `as_of` can be evaluated: its outcome window has fully passed."""
    return pd.Timestamp(as_of) + pd.DateOffset(months=horizon_months)


def populations_at(params: Params, tables: ValidatedTables, as_ofs: list[str]) -> dict[str, pd.DataFrame]:
    """Per as-of date (YYYY-MM-DD), the customers eligible then with their outcome within labels.horizon_months
    (became_key_account) and their spend-rank score (net spend over the 365 days before it), under training's
    rules; one pass over the transactions for all dates."""
    days = sorted({pd.Timestamp(as_of) for as_of in as_ofs})
    labels = labels_for(params, tables.transactions, customers_seen_before(tables.transactions, days))
    eligible = labels.loc[labels["eligible"], ["customer_id", "cutoff", TARGET]]
    if eligible.empty:
        spend = eligible.assign(**{SPEND_SCORE: pd.Series(dtype="float64")})
    else:
        spend = build_features(tables.transactions, tables.customers, eligible[["customer_id", "cutoff"]],
                               (SPEND_RANK_WINDOW_DAYS,), families=("spend",))
        spend[SPEND_SCORE] = spend_rank_score(spend).to_numpy()
    population = eligible.merge(spend[["customer_id", "cutoff", SPEND_SCORE]], on=["customer_id", "cutoff"],
                                how="left", validate="1:1")
    columns = ["customer_id", TARGET, SPEND_SCORE]
    day = population["cutoff"].dt.strftime("%Y-%m-%d")
    return {as_of: population.loc[day == as_of, columns].reset_index(drop=True) for as_of in as_ofs}


def track_record(params: Params, issued: list[IssuedList], tables: ValidatedTables) -> dict:
    """The track record of the issued lists on these tables: each due list evaluated, the others pending, the
    uplift pooled over every list with a holdout."""
    end = data_end(tables.transactions)
    horizon = params.labels.horizon_months
    cfg = params.evaluate
    bootstrap = Bootstrap(cfg.bootstrap_resamples, cfg.confidence, params.seed)
    due, pending = [], []
    for entry in issued:
        day = due_date(entry.as_of, horizon)
        if day <= end:
            due.append(entry)
        else:
            pending.append({"as_of": entry.as_of, "model_version": entry.model_version, "due": str(day.date())})
    populations = populations_at(params, tables, [entry.as_of for entry in due]) if due else {}
    evaluated = [evaluate_list(entry.as_of, entry.model_version, entry.members_frame(), populations[entry.as_of],
                               cfg.k, horizon, bootstrap) for entry in due]
    pooled = pooled_uplift([result.uplift for result in evaluated if result.uplift is not None], bootstrap)
    return {"data_end": str(end.date()), "horizon_months": horizon, "issued_lists": len(issued),
            "evaluated": [result.to_dict() for result in evaluated], "pending": pending,
            "pooled_uplift": None if pooled is None else pooled.to_dict(),
            "summary": _summary(len(issued), len(evaluated), pending)}


def no_lists_record(params: Params) -> dict:
    """The track record while the ledger holds no list."""
    return {"data_end": None, "horizon_months": params.labels.horizon_months, "issued_lists": 0, "evaluated": [],
            "pending": [], "pooled_uplift": None, "summary": _summary(0, 0, [])}


def _summary(issued: int, evaluated: int, pending: list[dict]) -> str:
    if not issued:
        return "No list has been issued yet: the ledger (data.scores_dir/ledger/) holds no entry."
    text = f"{issued} issued list{'s' if issued != 1 else ''}, {evaluated} with a horizon that has passed"
    if pending:
        text += f"; the next is due on {min(item['due'] for item in pending)}"
    return text + "."


def track_record_markdown(record: dict) -> str:
    """The track record as a Markdown page for people."""
    intro = record["summary"]
    if record["data_end"] is not None:
        last_day = (pd.Timestamp(record["data_end"]) - pd.Timedelta(days=1)).date()
        intro += (f" Transactions up to {last_day}; key accounts within {record['horizon_months']} months; each "
                  "spend-rank list recomputed from the transactions before its list's day.")
    lines = ["# Track record of the issued lists", "", intro, ""]
    if record["pooled_uplift"] is not None:
        lines += [record["pooled_uplift"]["line"], ""]
    for result in sorted(record["evaluated"], key=lambda item: item["as_of"], reverse=True):
        lines += [f"## List of {result['as_of']} (model version {markdown_cell(result['model_version'])})", ""]
        lines += [f"- {line}" for line in result["lines"]]
        lines += ["", "| accounts | size | key accounts | precision | ranking by 12-month spend | difference | "
                  f"{result['confidence']:.0%} interval of the difference |", "|---|---|---|---|---|---|---|"]
        for reach in [result["tier_a"], *result["top_k"]]:
            interval = reach["difference_interval"]
            shown = "too few" if interval is None else f"{signed(interval[0])} to {signed(interval[1])}"
            precision = "n/a" if reach["model_precision"] is None else f"{reach['model_precision']:.0%}"
            lines.append(f"| {reach['group']} | {reach['size']} | {reach['model']} | {precision} | "
                         f"{reach['spend_rank']} | {signed(reach['difference'])} | {shown} |")
        lines.append("")
    if record["pending"]:
        lines += ["## Pending", "", "| issued | model version | due |", "|---|---|---|"]
        lines += [f"| {item['as_of']} | {markdown_cell(item['model_version'])} | {item['due']} |"
                  for item in record["pending"]]
        lines.append("")
    return "\n".join(lines)


def run(params: Params) -> dict:
    """Stage entry: the track record of every issued list (data.track_record_file and its Markdown beside it)."""
    issued = issued_lists(params.data.scores_dir)
    record = track_record(params, issued, load_validated(params)) if issued else no_lists_record(params)
    target = params.data.track_record_file
    write_json(record, target)
    write_text(track_record_markdown(record), target.with_suffix(".md"))
    log.info("track record: %s", record["summary"])
    return record
