"""Stage score: the champion model ranks eligible customers at an as-of date, with plain-language reasons.

Idempotent: the same data, as-of date and champion give the same outputs, written atomically.
"""

from __future__ import annotations

import logging

import pandas as pd

from features.catalogue import feature_catalogue
from features.spine import customers_seen_before
from models.explain import reason_codes, shap_explanation
from models.spec import SpecMismatchError
from pipeline.common import tracking
from pipeline.common.adapters import data_end, eligibility_for, features_for, refuse_other_population
from pipeline.common.artifacts import PROSPECTS_STEM, REPORT_FILE, RUN_FILE, load_validated, validated_file
from pipeline.common.config import Params
from pipeline.common.errors import DataError
from pipeline.common.io import atomic_dir, write_csv_export, write_json, write_text
from pipeline.common.report import sales_report_html

log = logging.getLogger(__name__)

PROSPECT_COLUMNS = [
    "rank", "customer_id", "company_name", "industry", "country", "account_owner", "spend_12m", "probability",
]


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


def run(params: Params) -> pd.DataFrame:
    """Stage entry: the ranked, explained prospect list and sales report (data.scores_dir), atomically."""
    tables = load_validated(params)
    as_of = as_of_date(params, tables.transactions, pd.Timestamp.today())
    tracking.configure(params.mlflow)
    version = tracking.alias_version(params.mlflow.registered_model, params.score.model_alias)
    model_uri = tracking.version_uri(params.mlflow.registered_model, version)
    refuse_other_population(params, tracking.version_run_params(params.mlflow.registered_model, version),
                            f"model version {version}")
    model = tracking.load_model(model_uri)
    record = tracking.version_run_tag(params.mlflow.registered_model, version, tracking.TRACK_RECORD_TAG)

    features = features_for(params, tables, eligible_spine(params, tables.transactions, as_of))
    try:
        X = model.spec.conform(features)
    except SpecMismatchError as exc:
        raise DataError("feature snapshot at " + str(as_of.date()), None, f"{exc}; retrain the model") from exc
    raw_score = model.raw_score_conformed(X)
    probability = model.probability(raw_score)
    explanation = shap_explanation(model.booster, X, model.prior)
    shap_values = pd.DataFrame(explanation.values, columns=list(model.spec.columns), index=X.index)
    catalogue = feature_catalogue(params.features.windows_days, params.features.families)
    reasons = reason_codes(shap_values, features, catalogue, params.score.top_reasons)

    prospects = (
        features[["customer_id", "spend_sum_365d"]]
        .rename(columns={"spend_sum_365d": "spend_12m"})
        .assign(probability=probability.to_numpy(), raw_score=raw_score.to_numpy())
        .join(reasons)
        .merge(tables.customers[["customer_id", "company_name", "industry", "country", "account_owner"]],
               on="customer_id", how="left")
        # the raw score orders customers that calibration puts on the same probability step
        .sort_values(["probability", "raw_score", "customer_id"], ascending=[False, False, True],
                     ignore_index=True)
    )
    prospects["rank"] = range(1, len(prospects) + 1)
    prospects["spend_12m"] = prospects["spend_12m"].round(2)
    prospects["probability"] = prospects["probability"].round(4)
    prospects = prospects[PROSPECT_COLUMNS + list(reasons.columns)]
    with atomic_dir(params.data.scores_dir) as tmp:
        prospects.to_parquet(tmp / f"{PROSPECTS_STEM}.parquet", index=False)
        write_csv_export(prospects, tmp / f"{PROSPECTS_STEM}.csv")
        write_text(sales_report_html(prospects, str(as_of.date()), version, params.report.top_n, record),
                   tmp / REPORT_FILE)
        write_json({"as_of": str(as_of.date()), "model_uri": model_uri, "model_version": version,
                    "eligible_customers": len(prospects)}, tmp / RUN_FILE)
    log.info("scored %s eligible customers as of %s with %s (version %s)", len(prospects), as_of.date(),
             model_uri, version)
    return prospects
