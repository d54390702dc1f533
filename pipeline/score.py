"""Stage score: the champion model ranks eligible customers at an as-of date, with plain-language reasons.

Each run is a folder, data.scores_dir/runs/<as-of>/, written whole and renamed into place; `runs/latest` points
at the newest. It holds the ranked list (Parquet, CSV, XLSX), the sales report, the monthly spend behind its
sparklines and the manifest (run.json). The list issued to sales is recorded in the ledger (scores_dir/ledger).
Idempotent: the same data, as-of date, params and champion give the same files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from features.catalogue import feature_catalogue
from features.spine import customers_seen_before
from models.explain import reason_codes, shap_explanation
from models.rankings import MODEL, SPEND_RANK
from models.scoring import TIERS, assign_tiers, holdout_draw, issued_list, rank_scores, score_1_99
from models.spec import SpecMismatchError
from pipeline.common import tracking
from pipeline.common.adapters import data_end, eligibility_for, features_for, refuse_other_population
from pipeline.common.artifacts import (
    PLOT_FILES,
    PLOTS_DIR,
    PROSPECTS_FILE,
    PROSPECTS_STEM,
    REPORT_FILE,
    SPEND_BY_MONTH_FILE,
    load_validated,
    validated_file,
)
from pipeline.common.config import Params
from pipeline.common.errors import DataError
from pipeline.common.io import atomic_dir, read_json, read_parquet, write_csv_export, write_json, write_text
from pipeline.common.ledger import issued_list_of, record_issued_list, track_record_sentence
from pipeline.common.report import sales_report_html
from pipeline.common.runs import (
    MANIFEST_FILE,
    check_free_space,
    point_latest,
    previous_run,
    prune_runs,
    run_folder,
    scoring_lock,
)
from pipeline.common.spreadsheet import write_prospects_xlsx

log = logging.getLogger(__name__)

CUSTOMER_COLUMNS = ["company_name", "industry", "region", "country", "account_owner"]
PROSPECT_COLUMNS = ["rank", "customer_id", *CUSTOMER_COLUMNS, "spend_12m", "probability", "score", "tier",
                    "holdout", "previous_rank", "previous_tier", "previous_score"]
SPARKLINE_MONTHS = 24
DRIVERS_SHOWN = 10


def as_of_date(params: Params, transactions: pd.DataFrame, today: pd.Timestamp) -> pd.Timestamp:
    """The scoring date: score.as_of, or the day after the last transaction. Every refusal of the date is here, a
    DataError on the transactions' timestamp: a date at or before the first transaction has no history to score
    (named with the data's span); the newest transaction more than score.max_data_age_days before the date (before
    `today` when score.as_of is null) means a stalled export, which must fail a scheduled run, not pass as fresh."""
    source = str(validated_file(params.data.validated_dir, "transactions"))
    first = pd.Timestamp(transactions["timestamp"].min()).normalize()
    newest = data_end(transactions) - pd.Timedelta(days=1)
    configured = params.score.as_of  # a date: checked when params are loaded
    as_of = data_end(transactions) if configured is None else pd.Timestamp(configured)
    if as_of <= first:
        raise DataError(source, "timestamp",
                        f"score.as_of {as_of.date()} is not after the data, which spans {first.date()} to "
                        f"{newest.date()}: set a later score.as_of, or null (the day after the last transaction)")
    max_age = params.score.max_data_age_days
    reference = today.normalize() if configured is None else as_of
    age = (reference - newest).days
    if max_age is not None and age > max_age:
        raise DataError(source, "timestamp",
                        f"the newest transaction is from {newest.date()}, {age} days before {reference.date()}, "
                        f"more than score.max_data_age_days ({max_age}): are the exports up to date (and validated)?")
    return as_of


def eligible_spine(params: Params, transactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The (customer_id, cutoff) rows to score: the customers eligible on the as-of date, found as training finds
    them at each of its cutoffs (spine, then eligibility). None eligible is a DataError naming score.as_of and
    labels.active_months."""
    spine = customers_seen_before(transactions, [as_of])
    eligible = eligibility_for(params, transactions, spine)
    if not eligible["eligible"].any():
        raise DataError(str(validated_file(params.data.validated_dir, "transactions")), None,
                        f"no customer is eligible on {as_of.date()} (none bought in the "
                        f"{params.labels.active_months} months before it, or all are key accounts already): "
                        "check score.as_of and labels.active_months")
    return eligible.loc[eligible["eligible"], ["customer_id", "cutoff"]]


def monthly_spend(transactions: pd.DataFrame, customer_ids: pd.Series, as_of: pd.Timestamp,
                  months: int = SPARKLINE_MONTHS) -> pd.DataFrame:
    """Net spend per calendar month of the `months` months up to the as-of date (its own month counts the days
    before it), one row per customer of `customer_ids` (0.0 without orders), columns "YYYY-MM" oldest first."""
    periods = pd.period_range(end=(as_of - pd.Timedelta(days=1)).to_period("M"), periods=months, freq="M")
    start = periods[0].start_time
    window = transactions.loc[(transactions["timestamp"] >= start) & (transactions["timestamp"] < as_of)
                              & transactions["customer_id"].isin(customer_ids), ["customer_id", "timestamp", "amount"]]
    table = (window.assign(month=window["timestamp"].dt.to_period("M"))
             .pivot_table(index="customer_id", columns="month", values="amount", aggfunc="sum", fill_value=0.0)
             .reindex(index=pd.Index(customer_ids, name="customer_id"), columns=periods, fill_value=0.0))
    table.columns = [str(period) for period in periods]
    return table.fillna(0.0).astype("float64")


def _compared_with_previous(prospects: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """previous_rank, previous_tier and previous_score of each customer on the previous run's list (<NA> when it
    was not on it, or there is no previous run)."""
    if previous is None:
        previous = pd.DataFrame({"customer_id": pd.Series(dtype="str"), "rank": pd.Series(dtype="Int64"),
                                 "tier": pd.Series(dtype="object"), "score": pd.Series(dtype="Int64")})
    earlier = previous[["customer_id", "rank", "tier", "score"]].rename(
        columns={"rank": "previous_rank", "tier": "previous_tier", "score": "previous_score"})
    merged = prospects.merge(earlier, on="customer_id", how="left", validate="1:1")
    return merged.astype({"previous_rank": "Int64", "previous_score": "Int64", "previous_tier": "object"})


def _previous_list(folder: Path) -> pd.DataFrame:
    """The ranked list of the previous run, which movement compares with; a damaged one is a DataError that
    says how to go on."""
    try:
        return read_parquet(folder / PROSPECTS_FILE)[["customer_id", "rank", "tier", "score"]]
    except (DataError, KeyError) as exc:
        raise DataError(str(folder / PROSPECTS_FILE), None,
                        f"the previous run's list cannot be compared with ({exc}): restore the folder {folder} from "
                        "a backup, or move it out of runs/ so that movement is measured against the run before "
                        "it") from None


def _explained(model, X: pd.DataFrame, features: pd.DataFrame, top: pd.Index, params: Params
               ) -> tuple[pd.DataFrame, list[dict]]:
    """Reasons and effects for the rows `top` (typical measured among all eligible), and the top drivers: mean
    |SHAP| of the explained rows, per feature in plain words."""
    catalogue = feature_catalogue(params.features.windows_days, params.features.families)
    explanation = shap_explanation(model.booster, X.loc[top], model.prior)
    shap_values = pd.DataFrame(explanation.values, columns=list(model.spec.columns), index=top)
    reasons = reason_codes(shap_values, features.loc[top], catalogue, params.score.top_reasons,
                           population=features, with_effects=True)
    labels = {d.name: d.label for d in catalogue}
    strength = shap_values.abs().mean().sort_values(ascending=False).head(DRIVERS_SHOWN)
    drivers = [{"feature": labels.get(name, name), "importance": round(float(value), 4)}
               for name, value in strength.items() if value > 0]
    return reasons, drivers


def _backtest_gains(params: Params, version: str) -> list[dict]:
    """The model's cumulative gains against the spend ranking on its test cutoff, as logged by evaluate with the
    model version's run ([] when that run logged none)."""
    table = tracking.version_run_table(params.mlflow.registered_model, version,
                                       f"evaluation/{PLOTS_DIR}/{PLOT_FILES['gains']}")
    if table is None or not {"share_contacted", MODEL, SPEND_RANK} <= set(table.columns):
        return []
    return [{"share_contacted": round(float(row.share_contacted), 4), "model": round(float(row[MODEL]), 4),
             "spend_rank": round(float(row[SPEND_RANK]), 4)} for _, row in table.iterrows()]


def _trust(params: Params, version: str) -> list[str]:
    """How far to trust the list, in plain sentences: the model's backtest and the newest evaluated issued list."""
    sentences = [tracking.version_run_tag(params.mlflow.registered_model, version, tracking.TRACK_RECORD_TAG)]
    if params.data.track_record_file.is_file():
        sentences.append(track_record_sentence(read_json(params.data.track_record_file)))
    return [sentence for sentence in sentences if sentence]


def run(params: Params, wait_seconds: float | None = None) -> dict:
    """Stage entry: the ranked, explained prospect list of the as-of date as a run folder (module docstring),
    under the scores_dir lock (RunLockedError, exit 75, when another run holds it past `wait_seconds`). The
    manifest, with the run folder as run_dir."""
    scores_dir = params.data.scores_dir
    with scoring_lock(scores_dir, wait_seconds):
        check_free_space(scores_dir, params.score.min_free_mb)
        return _score(params)


def _score(params: Params) -> dict:
    scores_dir, cfg = params.data.scores_dir, params.score
    tables = load_validated(params)
    as_of = as_of_date(params, tables.transactions, pd.Timestamp.today())
    as_of_text = str(as_of.date())
    tracking.configure(params.mlflow)
    name = params.mlflow.registered_model
    version = tracking.alias_version(name, cfg.model_alias)
    refuse_other_population(params, tracking.version_run_params(name, version), f"model version {version}")
    model = tracking.load_model(tracking.version_uri(name, version))

    features = features_for(params, tables, eligible_spine(params, tables.transactions, as_of))
    try:
        X = model.spec.conform(features)
    except SpecMismatchError as exc:
        raise DataError("feature snapshot at " + as_of_text, None, f"{exc}; retrain the model") from exc
    raw_score = model.raw_score_conformed(X)
    ranked = rank_scores(
        features[["customer_id", "spend_sum_365d"]].rename(columns={"spend_sum_365d": "spend_12m"})
        .assign(probability=model.probability(raw_score).to_numpy(), raw_score=raw_score.to_numpy(),
                score=score_1_99(raw_score).to_numpy()))
    customers = tables.customers.reindex(columns=["customer_id", *CUSTOMER_COLUMNS])
    ranked = ranked.merge(customers, on="customer_id", how="left", validate="1:1").set_index(ranked.index)
    ranked["tier"] = assign_tiers(ranked, cfg.capacity, cfg.capacity_per_owner, cfg.tier_b_share, cfg.tier_c_share)
    ranked["holdout"] = holdout_draw(ranked["tier"], ranked["customer_id"], cfg.holdout_share, params.seed)
    ranked["spend_12m"] = ranked["spend_12m"].round(2)
    ranked["probability"] = ranked["probability"].round(4)

    reasons, drivers = _explained(model, X, features, ranked.index[:cfg.explain_top], params)
    earlier = previous_run(scores_dir, as_of_text)
    previous = None if earlier is None else _previous_list(earlier)
    prospects = _compared_with_previous(ranked.join(reasons).reset_index(drop=True)[
        [c for c in PROSPECT_COLUMNS if not c.startswith("previous_")] + list(reasons.columns)], previous)
    prospects = prospects[PROSPECT_COLUMNS + list(reasons.columns)]
    reason_columns = [c for c in reasons.columns if c.startswith("reason_")]
    prospects[reason_columns] = prospects[reason_columns].fillna("")

    before = tables.transactions["timestamp"] < as_of
    newest = pd.Timestamp(tables.transactions.loc[before, "timestamp"].max()).normalize()  # a backfill reads less
    tier_counts = prospects["tier"].value_counts()
    manifest = {
        "as_of": as_of_text, "data_through": str(newest.date()), "model_name": name, "model_version": str(version),
        "currency": params.data.files.currency, "eligible_customers": len(prospects),
        "previous_as_of": None if earlier is None else earlier.name,
        "tiers": {tier: int(tier_counts.get(tier, 0)) for tier in TIERS},
        "holdout": int(prospects["holdout"].sum()), "explained": len(reasons),
        "trust": _trust(params, version), "gains": _backtest_gains(params, version), "drivers": drivers,
    }
    issued = issued_list(prospects)  # the full table and the ledger keep the control group; sales do not get it
    spend_by_month = monthly_spend(tables.transactions, prospects["customer_id"], as_of)
    with atomic_dir(run_folder(scores_dir, as_of_text)) as tmp:
        prospects.to_parquet(tmp / PROSPECTS_FILE, index=False)
        write_csv_export(issued, tmp / f"{PROSPECTS_STEM}.csv")
        write_prospects_xlsx(issued, manifest, tmp / f"{PROSPECTS_STEM}.xlsx")
        spend_by_month.to_parquet(tmp / SPEND_BY_MONTH_FILE)
        write_text(sales_report_html(issued, spend_by_month, manifest), tmp / REPORT_FILE)
        write_json(manifest, tmp / MANIFEST_FILE)  # last: a folder with a manifest is a complete run
    record_issued_list(scores_dir, issued_list_of(prospects, as_of_text, name, str(version), params.evaluate.k,
                                                  cfg.holdout_share, params.seed))
    point_latest(scores_dir)
    removed = prune_runs(scores_dir, cfg.keep_runs, keep_also=as_of_text)
    log.info("scored %s eligible customers as of %s with %s version %s (tier A %s); runs removed: %s",
             len(prospects), as_of_text, name, version, manifest["tiers"]["A"], ", ".join(removed) or "none")
    return {**manifest, "run_dir": str(run_folder(scores_dir, as_of_text))}
