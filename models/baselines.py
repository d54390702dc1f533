"""Baselines a model must beat: what sales would do without it."""

from __future__ import annotations

import pandas as pd


def spend_rank_score(features: pd.DataFrame, window_days: int = 365) -> pd.Series:
    """Today's sales heuristic: rank by current trailing net spend (higher spend, higher rank)."""
    return features[f"spend_sum_{window_days}d"].astype("float64").rename("spend_rank_score")
