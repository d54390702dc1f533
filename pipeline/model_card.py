"""Stage model-card: a Markdown model card for the trained model, from the outputs of train, evaluate and
explain (data and period, label definition, eligible population, metrics vs baselines with intervals,
segments, top features, known limits). Written to data.model_card_file and logged to the training run."""

from __future__ import annotations

import logging
import os

import mlflow
import pandas as pd

from features.catalogue import FeatureDef, feature_catalogue
from models.backtest import Scorecard
from models.metrics import MIN_SEGMENT_POSITIVES, MIN_SEGMENT_ROWS
from models.rankings import LOGISTIC_REGRESSION, MODEL, ORACLE, SPEND_RANK, ranking_description
from pipeline.common import tracking
from pipeline.common.artifacts import (
    FOLD_METRICS_FILE,
    IMPORTANCE_TABLE,
    QUALITY_JSON,
    SEGMENTS_FILE,
    SUMMARY_FILE,
    load_evaluation,
)
from pipeline.common.charts import CHART_FILES
from pipeline.common.config import Params
from pipeline.common.io import markdown_cell, read_csv, read_json, write_text
from pipeline.common.report import key_accounts_reached, track_record

log = logging.getLogger(__name__)

TOP_FEATURES = 10
# early stopping at or below this many rounds: the trees add almost nothing to where they start from
PRIOR_ONLY_ROUNDS = 10


def _number(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _cutoff_range(cutoffs: list[str]) -> str:
    return f"{cutoffs[0]} … {cutoffs[-1]} ({len(cutoffs)})"


def _label_definition(params: Params) -> str:
    ka, labels = params.labels.key_account, params.labels
    rule = {
        "revenue_share": f"the customers who together make {ka.revenue_share:.0%} of revenue, largest first",
        "top_share": f"the top {ka.top_share:.0%} of customers by revenue",
        "absolute": f"customers with at least {ka.absolute_amount:,.0f} {params.data.files.currency} "
                    "revenue per 12 months",
    }[ka.rule]
    return (f"A key account is one of {rule}. At a cutoff, eligible customers are below that bar over the "
            f"trailing {ka.trailing_months} months and bought in the last {labels.active_months} months. The label "
            f"says whether an eligible customer's net spend in the {labels.horizon_months} months from the cutoff "
            "reaches the bar measured the same way on that outcome window.")


def _rankings(test: Scorecard, backtest: Scorecard) -> list[str]:
    """The model first, then the other rankings by descending backtest mean PR-AUC."""
    others = [name for name in test.rankings if name != MODEL]
    return [MODEL, *sorted(others, key=lambda name: -backtest.rankings[name]["pr_auc_mean"])]


def _rankings_table(test: Scorecard, backtest: Scorecard, k: int, confidence: float) -> list[str]:
    rows = [f"| ranking | test PR-AUC [{confidence:.0%} CI] | backtest mean PR-AUC ± sd [CI of the mean] "
            f"| ROC-AUC | precision@{k} | revenue captured@{k} | normalized Gini |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in _rankings(test, backtest):
        m, b = test.rankings[name], backtest.rankings[name]
        rows.append(
            f"| {name} | {_number(m['pr_auc'])} [{_number(m['pr_auc_ci_low'])}, {_number(m['pr_auc_ci_high'])}] "
            f"| {_number(b['pr_auc_mean'])} ± {_number(b['pr_auc_std'])} "
            f"[{_number(b['pr_auc_mean_ci_low'])}, {_number(b['pr_auc_mean_ci_high'])}] "
            f"| {_number(m['roc_auc'])} | {_number(m[f'precision_at_{k}'])} "
            f"| {_number(m.get(f'revenue_captured_at_{k}'))} | {_number(m.get('normalized_gini'))} |"
        )
    return rows


def _plain_words(params: Params, test: Scorecard, test_cutoff: str) -> list[str]:
    """For sales leads: the future key accounts a team calling the top k would have reached on the test cutoff,
    with the model, with today's spend ranking and with the strongest simple baseline at that capacity (named)."""
    metrics = test.rankings
    model = metrics[MODEL]
    headline_k = params.evaluate.headline_k
    [strongest_at_headline] = test.comparisons[f"precision_at_{headline_k}_strongest_baselines"]
    lines = [
        track_record(test_cutoff, params.labels.horizon_months, headline_k, metrics, strongest_at_headline),
        "",
        f"| customers called | future key accounts reached: model | `{SPEND_RANK}` | strongest simple baseline "
        "at that capacity | which | share of all future key accounts (model) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for k in params.evaluate.k:
        [strongest] = test.comparisons[f"precision_at_{k}_strongest_baselines"]
        reached = [key_accounts_reached(metrics[name], k, model["n_positive"])
                   for name in (MODEL, SPEND_RANK, strongest)]
        lines.append(f"| {k:,} | {' | '.join(map(str, reached))} | `{strongest}` | {model[f'recall_at_{k}']:.0%} |")
    return lines


def _known_limits(params: Params, test: Scorecard, backtest: Scorecard, summary: dict) -> list[str]:
    limits = []
    model, compared = test.rankings[MODEL], backtest.comparisons
    ratio = compared["pr_auc_ratio_to_strongest_baseline"]
    ratio_low = compared["pr_auc_ratio_to_strongest_baseline_ci_low"]
    if not ratio_low > 1:
        strongest = ", ".join(f"`{name}`" for name in dict.fromkeys(compared["strongest_baselines"]))
        limits.append(f"Over the backtest the model is not clearly better than the strongest simple baseline of each "
                      f"fold ({strongest}): mean PR-AUC ratio {_number(ratio, 2)}, interval down to "
                      f"{_number(ratio_low, 2)}. Treat its list as a second opinion next to that baseline's.")
    if model["n_positive"] < 100:
        limits.append(f"Only {model['n_positive']} positives on the test cutoff: intervals are wide.")
    if params.evaluate.backtest_every_months < params.labels.horizon_months:
        limits.append("Backtest folds are closer together than the horizon, so their outcome windows overlap and "
                      "the folds are not independent; the spread understates the uncertainty.")
    if params.calibration.method != "none":
        limits.append(f"Probabilities are calibrated ({params.calibration.method}) on the validation cutoff "
                      f"{summary['validation_cutoff']}, the cutoff early stopping also watched; a changing base rate "
                      "after it shifts them."
                      + (" The calibrator was fitted on the early-stopped trees' scores and is applied to the "
                         "refitted trees (see the calibration metrics above)." if summary["refit_cutoffs"] else ""))
        if model["ece"] > model["ece_uncalibrated"]:
            limits.append(f"On the test cutoff the calibrated probabilities are further off than the raw scores "
                          f"(expected calibration error {_number(model['ece'])} against "
                          f"{_number(model['ece_uncalibrated'])}): {summary['validation_positive_rate']:.1%} of the "
                          f"eligible customers became key accounts after the validation cutoff, "
                          f"{model['positive_rate']:.1%} after the test cutoff. Read them as a ranking, not as "
                          "rates, until the calibration has seen a similar period.")
    if params.tuning.enabled:
        limits.append("Hyperparameters were searched on the last fold's validation cutoff, which lies after the "
                      "test cutoffs of earlier folds: their scores are slightly optimistic.")
    limits.append(f"Customers without a purchase in the last {params.labels.active_months} months are never ranked.")
    return limits


def _strongest_lines(test: Scorecard, backtest: Scorecard, confidence: float) -> list[str]:
    """The headline comparison: the model against the strongest simple baseline (the best PR-AUC among the baselines
    on each cutoff's own rows), on the test cutoff and over the backtest, with paired intervals."""

    def ratio(compared: dict) -> str:
        key = "pr_auc_ratio_to_strongest_baseline"
        low, high = _number(compared[f"{key}_ci_low"], 2), _number(compared[f"{key}_ci_high"], 2)
        return f"{_number(compared[key], 2)} [{confidence:.0%} paired interval {low}, {high}]"

    [strongest] = test.comparisons["strongest_baselines"]
    per_fold = ", ".join(f"`{name}`" for name in backtest.comparisons["strongest_baselines"])
    return [f"Strongest simple baseline on the test cutoff (the best PR-AUC among the baselines there): `{strongest}` "
            f"({ranking_description(strongest)}); the model's PR-AUC ratio to it {ratio(test.comparisons)}. Over the "
            f"backtest, against each fold's strongest baseline ({per_fold}), the ratio of mean PR-AUC is "
            f"{ratio(backtest.comparisons)}."]


def _prior_lines(prior: dict | None) -> list[str]:
    if prior is None:
        return []
    terms = ", ".join(f"{c} ({w:+.2f})" for c, w in zip(prior["columns"], prior["coefficients"], strict=True))
    return [f"- The trees start from a logistic prior instead of the base rate (`model.prior_features`): "
            f"log-odds {prior['intercept']:+.2f} plus weights on log(1 + x) of {terms}; the trees learn "
            "corrections to it, and the reasons include its share."]


def _feature_words(columns: list[str], catalogue: dict[str, FeatureDef]) -> str:
    """A measure in plain words: its first column's label, and how many more windows it has."""
    first = catalogue[columns[0]].label if columns[0] in catalogue else f"`{columns[0]}`"
    more = len(columns) - 1
    return first + (f" (and {more} more window{'s' if more > 1 else ''})" if more else "")


def _training_lines(summary: dict, catalogue: dict[str, FeatureDef]) -> list[str]:
    """What the trees learnt: whether early stopping left the model its prior, and the feature measures the
    noise guard left out."""
    lines = []
    rounds, prior = summary["best_iteration"], summary.get("prior")
    if rounds <= PRIOR_ONLY_ROUNDS:
        start = ("the base rate" if prior is None else "the logistic prior on "
                 + ", ".join(_feature_words([c], catalogue) for c in prior["columns"]))
        lines.append(f"- The model is its prior: early stopping chose {rounds} round{'s' if rounds > 1 else ''}, "
                     f"so the trees add almost nothing to {start}.")
    guard = summary.get("signal_guard")
    if guard is not None:
        dropped = [m for m in guard["measures"] if not m["kept"]]
        if not guard["measures"]:
            lines.append("- The noise guard (`model.signal_guard`) could not test the features: no customer of the "
                         "validation cutoff became a key account.")
        elif dropped:
            words = ", ".join(_feature_words(m["columns"], catalogue) for m in dropped)
            lines.append(f"- Left out, no stable signal on validation (`model.signal_guard`): {words}. "
                         f"{len(guard['measures']) - len(dropped)} of {len(guard['measures'])} feature measures stay "
                         f"(each measure's drop in validation PR-AUC when shuffled: `{SUMMARY_FILE}`).")
        else:
            lines.append("- Every feature measure lowered validation PR-AUC clearly when shuffled "
                         "(`model.signal_guard`): none was left out.")
    return lines


def _segments_table(segments: pd.DataFrame) -> list[str]:
    """Model and spend-rank PR-AUC per segment with enough data to measure; segment values come from the input
    data (escaped). The segments too small to measure are counted, not listed."""
    lines = ["| segment | value | rows | positives | model PR-AUC | spend-rank PR-AUC |",
             "| --- | --- | --- | --- | --- | --- |"]
    measured = segments[segments["enough_data"]]
    for (segment, value), rows in measured.groupby(["segment", "segment_value"], sort=False):
        pr_auc = rows.set_index("ranking")["pr_auc"]
        first = rows.iloc[0]
        lines.append(f"| {segment} | {markdown_cell(value)} | {first['n_rows']:,} | {first['n_positive']:,} "
                     f"| {_number(pr_auc.get(MODEL))} | {_number(pr_auc.get(SPEND_RANK))} |")
    small = segments.loc[~segments["enough_data"], ["segment", "segment_value"]].drop_duplicates()
    if len(small):
        lines += ["", f"{len(small)} segment(s) with fewer than {MIN_SEGMENT_ROWS} rows or {MIN_SEGMENT_POSITIVES} "
                      f"positives are not measured ({', '.join(sorted(small['segment'].unique()))}; listed in "
                      f"`{SEGMENTS_FILE}`)."]
    return lines


def model_card(params: Params, summary: dict, test: Scorecard, backtest: Scorecard, importance: pd.DataFrame,
               per_fold: pd.DataFrame, segments: pd.DataFrame, quality: dict) -> str:
    """The model card as Markdown."""
    catalogue = {f.name: f for f in feature_catalogue(params.features.windows_days, params.features.families)}
    metrics = test.rankings
    model = metrics[MODEL]
    cfg = params.evaluate
    chart_dir = os.path.relpath(params.data.evaluation_dir, params.data.model_card_file.parent)
    lines = [
        f"# Model card: {params.mlflow.registered_model}",
        "",
        f"MLflow run `{summary['run_id']}`; model `{summary['model_uri']}`.",
        "",
        "## Data and period",
        f"- Source: `{params.data.source}`; {quality['rows_kept']['transactions']:,} transaction lines of "
        f"{quality['rows_kept']['customers']:,} customers from {quality['first_timestamp'][:10]} to "
        f"{quality['last_timestamp'][:10]} (currency {quality['currency']}).",
        f"- Training cutoffs {_cutoff_range(summary['train_cutoffs'])}; validation cutoff "
        f"{summary['validation_cutoff']} (early stopping, calibration); test cutoff {summary['test_cutoff']}.",
        f"- The final trees learnt from {summary['train_rows']:,} rows: "
        + (f"refitted with the early-stopped number of rounds ({summary['best_iteration']}) on the cutoffs "
           f"{_cutoff_range(summary['refit_cutoffs'])}, validation included." if summary["refit_cutoffs"]
           else "the training cutoffs."),
        *_prior_lines(summary.get("prior")),
        *_training_lines(summary, catalogue),
        f"- Backtest test cutoffs: {', '.join(backtest.comparisons['test_cutoffs'])}; each fold trained only on "
        "cutoffs whose outcome window ends by its test cutoff.",
        "",
        "## Label",
        _label_definition(params),
        "",
        "## Eligible population (test cutoff)",
        f"{model['n_rows']:,} eligible customers, {model['n_positive']:,} became key accounts "
        f"({model['positive_rate']:.2%}).",
        "",
        "## In plain words",
        *_plain_words(params, test, summary["test_cutoff"]),
        "",
        "## Metrics against baselines",
        *_rankings_table(test, backtest, cfg.headline_k, cfg.confidence),
        "",
        *_strongest_lines(test, backtest, cfg.confidence),
    ]
    if ORACLE in metrics:
        share = _number(test.comparisons["pr_auc_share_of_oracle"], 2)
        lines.append(f"Share of the oracle's PR-AUC (demo ground truth): {share}.")
    lines += [
        f"Calibrated probabilities ({params.calibration.method}): Brier {_number(model['brier'], 4)}, expected "
        f"calibration error {_number(model['ece'], 4)} (uncalibrated: {_number(model['brier_uncalibrated'], 4)}, "
        f"{_number(model['ece_uncalibrated'], 4)}; logistic regression baseline: "
        f"{_number(metrics.get(LOGISTIC_REGRESSION, {}).get('brier'), 4)}, "
        f"{_number(metrics.get(LOGISTIC_REGRESSION, {}).get('ece'), 4)}).",
        "",
        "### Model PR-AUC per backtest cutoff, against that cutoff's strongest baseline",
        "| test cutoff | model | strongest baseline | its PR-AUC | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    wide = per_fold.pivot(index="test_cutoff", columns="ranking", values="pr_auc")
    for cutoff, strongest in zip(backtest.comparisons["test_cutoffs"], backtest.comparisons["strongest_baselines"],
                                 strict=True):
        row = wide.loc[cutoff]
        lines.append(f"| {cutoff} | {_number(row[MODEL])} | `{strongest}` | {_number(row[strongest])} "
                     f"| {_number(row[MODEL] / row[strongest], 2)} |")
    lines += ["", "### Segments (test cutoff, model vs spend rank)", *_segments_table(segments)]
    lines += ["", "## Top features (mean |SHAP| on the test cutoff)", "| feature | mean abs SHAP | definition |",
              "| --- | --- | --- |"]
    for row in importance.head(TOP_FEATURES).itertuples(index=False):
        definition = catalogue[row.feature].definition if row.feature in catalogue else ""
        lines.append(f"| `{row.feature}` | {row.mean_abs_shap:.4f} | {definition} |")
    lines += ["", "## Known limits", *[f"- {limit}" for limit in _known_limits(params, test, backtest, summary)], "",
              "## Charts", *[f"![{chart}]({chart_dir}/{chart})" for chart in CHART_FILES], ""]
    return "\n".join(lines)


def run(params: Params) -> str:
    """Stage entry: write the model card (data.model_card_file) and log it to the training run."""
    summary = read_json(params.data.model_dir / SUMMARY_FILE)
    card = model_card(
        params, summary, *load_evaluation(params),
        read_csv(params.data.explain_dir / IMPORTANCE_TABLE),
        read_csv(params.data.evaluation_dir / FOLD_METRICS_FILE),
        read_csv(params.data.evaluation_dir / SEGMENTS_FILE, keep_default_na=False, na_values=[""]),
        read_json(params.data.validated_dir / QUALITY_JSON),
    )
    write_text(card, params.data.model_card_file)
    tracking.configure(params.mlflow)
    with mlflow.start_run(run_id=summary["run_id"]):
        mlflow.log_artifact(str(params.data.model_card_file))
    log.info("model card written to %s", params.data.model_card_file)
    return card
