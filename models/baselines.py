"""Baselines a model must beat: the simple rules sales could use without it, evaluated on the same rows.

Each takes the rows of one cutoff as the feature builder and the label table give them (or, for the
transaction-based ones, the transactions) and reads nothing at or after the cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.rankings import RECENCY_HALF_LIFE_DAYS, SPEND_RANK_WINDOW_DAYS
from models.spec import FeatureSpec

TRAILING_SPEND = "trailing_spend"  # the label table's net spend over the key-account bar's window before the cutoff


def spend_rank_score(features: pd.DataFrame, window_days: int = SPEND_RANK_WINDOW_DAYS) -> pd.Series:
    """Rank by net spend over the last `window_days` days (higher spend, higher rank; 365 days: today's sales
    heuristic)."""
    return features[f"spend_sum_{window_days}d"].astype("float64").rename("spend_rank_score")


def trailing_spend_rank_score(rows: pd.DataFrame) -> pd.Series:
    """Rank by net spend over the key-account bar's trailing window before the cutoff (the label table's
    `trailing_spend`, which eligibility compares with the bar)."""
    return rows[TRAILING_SPEND].astype("float64").rename("trailing_spend_rank_score")


def order_count_rank_score(features: pd.DataFrame) -> pd.Series:
    """Rank by orders in the last 365 days, ties broken by 365-day spend."""
    orders = features["orders_count_365d"].astype("float64").fillna(0.0)
    tie_break = features["spend_sum_365d"].astype("float64").rank(pct=True).fillna(0.0) / 2  # never one order
    return (orders + tie_break).rename("order_count_rank_score")


def recency_weighted_spend(transactions: pd.DataFrame, cutoff: pd.Timestamp, customer_ids: pd.Index,
                           half_life_days: float = RECENCY_HALF_LIFE_DAYS) -> pd.Series:
    """Net spend before `cutoff` with each line weighted by 2^(-age / half_life_days), age in days from the line to
    the cutoff (a line half_life_days old counts half), per customer of `customer_ids` (0 without lines).
    `transactions` has columns customer_id, timestamp and amount; lines at or after the cutoff are ignored."""
    history = transactions.loc[transactions["timestamp"] < cutoff, ["customer_id", "timestamp", "amount"]]
    age_days = (cutoff - history["timestamp"]) / pd.Timedelta(days=1)
    weighted = history["amount"].astype("float64") * np.exp2(-age_days / half_life_days)
    spend = weighted.groupby(history["customer_id"], observed=True).sum()
    return spend.reindex(customer_ids, fill_value=0.0).rename("recency_weighted_spend")


def growth_rank_score(features: pd.DataFrame) -> pd.Series:
    """Rank by recent momentum: 90-day spend growth, ties broken by current 90-day spend (no growth = lowest)."""
    growth = features["spend_growth_90d"].astype("float64").fillna(-1.0)
    spend = features["spend_sum_90d"].astype("float64")
    tie_break = spend.rank(pct=True) / 1000  # smaller than any difference between growth values that matters
    return (growth + tie_break).rename("growth_rank_score")


def rfm_score(features: pd.DataFrame) -> pd.Series:
    """Classic RFM: quintile scores 1-5 of recency (recent is better), frequency (orders in 365 days) and
    monetary value (spend in 365 days) among the rows of each cutoff, summed (3-15)."""

    def quintile(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
        ranked = values.groupby(features["cutoff"]).rank(pct=True, ascending=higher_is_better)
        return np.ceil(ranked.fillna(0.2) * 5).clip(1, 5)  # no history: the lowest quintile

    recency = quintile(features["recency_days_since_last_order"].astype("float64"), higher_is_better=False)
    frequency = quintile(features["orders_count_365d"].astype("float64"))
    monetary = quintile(features["spend_sum_365d"].astype("float64"))
    return (recency + frequency + monetary).rename("rfm_score")


def fit_logistic_regression(X: pd.DataFrame, y: pd.Series, spec: FeatureSpec, seed: int) -> Pipeline:
    """Logistic regression on the model's features: median-imputed, standardised numbers and one-hot
    categories (unknown levels ignored)."""
    numeric = [c for c in spec.columns if c not in spec.categorical]
    encoder = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()),
         numeric),
        ("categories", OneHotEncoder(handle_unknown="ignore"), list(spec.categorical)),
    ])
    prepared = _as_object_categories(X, spec)
    return make_pipeline(encoder, LogisticRegression(max_iter=2000, random_state=seed)).fit(prepared, y.astype(int))


def logistic_regression_score(model: Pipeline, X: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """Probability from a fitted logistic-regression baseline, aligned with X's index."""
    return pd.Series(model.predict_proba(_as_object_categories(X, spec))[:, 1], index=X.index,
                     name="logistic_regression_score")


def _as_object_categories(X: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Categories as text with a 'missing' level (the encoder cannot take pandas NA)."""
    prepared = X.copy()
    for column in spec.categorical:
        prepared[column] = prepared[column].astype("object").where(prepared[column].notna(), "missing")
    return prepared
