"""Baselines a model must beat: what sales would do without it, evaluated on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.spec import FeatureSpec


def spend_rank_score(features: pd.DataFrame, window_days: int = 365) -> pd.Series:
    """Today's sales heuristic: rank by current trailing net spend (higher spend, higher rank)."""
    return features[f"spend_sum_{window_days}d"].astype("float64").rename("spend_rank_score")


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
