"""SHAP explanations: global importance and per-customer reasons in plain words."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap

from features.catalogue import FeatureDef
from models.estimator import LogisticPrior


def shap_explanation(model: lgb.Booster, X: pd.DataFrame, prior: LogisticPrior | None = None) -> shap.Explanation:
    """SHAP values (log-odds contributions) of every feature for every row of X; with the `prior` the trees
    were boosted from, its exact contributions are added to its features' (SHAP values are additive over the
    sum of two models)."""
    explanation = shap.TreeExplainer(model)(X)
    if explanation.values.ndim == 3:  # some shap versions return one slice per class
        explanation = explanation[:, :, 1]
    if prior is None:
        return explanation
    values = np.array(explanation.values, dtype="float64")
    values[:, [X.columns.get_loc(c) for c in prior.columns]] += prior.contributions(X)
    return shap.Explanation(values, base_values=np.asarray(explanation.base_values) + prior.reference_log_odds(),
                            data=explanation.data, feature_names=explanation.feature_names)


def mean_abs_shap(explanation: shap.Explanation) -> pd.DataFrame:
    """Global importance: mean |SHAP| per feature, largest first."""
    values = np.abs(np.asarray(explanation.values)).mean(axis=0)
    table = pd.DataFrame({"feature": list(explanation.feature_names), "mean_abs_shap": values})
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


def _format_values(values: pd.Series, unit: str) -> pd.Series:
    """Human-readable text for one feature column."""
    missing = values.isna()
    if unit == "text":
        text = values.astype("str")
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        if unit in ("ratio", "share"):
            sign = "+" if unit == "ratio" else ""
            text = numbers.map(lambda v: f"{v:{sign}.0%}")
        elif unit == "days":
            text = numbers.map(lambda v: f"{v:,.0f} days")
        elif unit == "years":
            text = numbers.map(lambda v: f"{v:,.0f} years")
        else:
            text = numbers.map(lambda v: f"{v:,.0f}")
    return text.where(~missing, "unknown")


def _phrases(feature: FeatureDef, features: pd.DataFrame) -> pd.Series:
    """"label: value" (", up from earlier" where the feature has an earlier counterpart) for these rows."""
    text = feature.label + ": " + _format_values(features[feature.name], feature.unit)
    if feature.compare_to and feature.compare_to in features.columns:
        earlier = _format_values(features[feature.compare_to], feature.unit)
        now, before = features[feature.name].astype("float64"), features[feature.compare_to].astype("float64")
        direction = np.select([now > before, now < before], ["up from ", "down from "], "same as ")
        text = text + ", " + pd.Series(direction, index=features.index) + earlier
    return text


def reason_codes(
    shap_values: pd.DataFrame, features: pd.DataFrame, catalogue: list[FeatureDef], top_n: int = 3
) -> pd.DataFrame:
    """The `top_n` strongest reasons per row as phrases such as "orders in last 90 days: 14, up from 5 — raises",
    one per measure: the windows of a measure (spend in the last 90 and 365 days) are one reason, ranked by
    their summed SHAP value and shown by the window contributing most in that direction.
    Columns reason_1..reason_n, index of `features`."""
    defs = {d.name: d for d in catalogue}
    contributions = shap_values.to_numpy(dtype="float64")
    measure_of = pd.Index([defs[name].measure for name in shap_values.columns])
    measures = measure_of.unique()
    members = [np.flatnonzero(measure_of == m) for m in measures]
    totals = np.column_stack([contributions[:, cols].sum(axis=1) for cols in members])
    direction = np.where(totals >= 0, 1.0, -1.0)
    shown = np.column_stack([cols[np.argmax(contributions[:, cols] * direction[:, [g]], axis=1)]
                             for g, cols in enumerate(members)])  # per row and measure: the column to phrase
    rows = np.arange(len(features))[:, None]
    top = np.argsort(-np.abs(totals), axis=1, kind="stable")[:, :top_n]
    top_columns = shown[rows, top]
    chosen = np.empty(top.shape, dtype=object)
    for j, name in enumerate(shap_values.columns):  # format only the cells that were chosen
        hit_rows, slots = np.nonzero(top_columns == j)
        if len(hit_rows):
            chosen[hit_rows, slots] = _phrases(defs[name], features.iloc[hit_rows]).to_numpy()
    effect = np.where(totals[rows, top] >= 0, " — raises", " — lowers")
    text = chosen.astype(str) + effect
    return pd.DataFrame(text, index=features.index, columns=[f"reason_{i + 1}" for i in range(top.shape[1])])
