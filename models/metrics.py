"""Ranking metrics for a sales team that can call only the top k customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def _ranked_labels(y_true: pd.Series | np.ndarray, score: pd.Series | np.ndarray) -> np.ndarray:
    """Labels sorted by descending score; ties broken by original order (stable sort)."""
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype="float64")
    if y.shape != s.shape:
        raise ValueError("labels and scores must have the same length")
    s = np.where(np.isnan(s), -np.inf, s)
    return y[np.argsort(-s, kind="stable")]


def precision_at_k(y_true, score, k: int) -> float:
    """Share of positives among the k highest scores (k capped at the number of rows)."""
    ranked = _ranked_labels(y_true, score)
    k = min(k, len(ranked))
    return float(ranked[:k].mean()) if k else float("nan")


def recall_at_k(y_true, score, k: int) -> float:
    """Share of all positives found among the k highest scores."""
    ranked = _ranked_labels(y_true, score)
    positives = ranked.sum()
    return float(ranked[: min(k, len(ranked))].sum() / positives) if positives else float("nan")


def lift_at_fraction(y_true, score, fraction: float = 0.1) -> float:
    """Positive rate in the top `fraction` of scores divided by the overall positive rate."""
    ranked = _ranked_labels(y_true, score)
    base_rate = ranked.mean() if len(ranked) else 0.0
    k = max(1, int(np.ceil(fraction * len(ranked))))
    return float(ranked[:k].mean() / base_rate) if base_rate > 0 else float("nan")


def _filled(score) -> np.ndarray:
    s = np.asarray(score, dtype="float64")
    return np.where(np.isnan(s), np.nanmin(s) - 1 if np.isfinite(s).any() else 0.0, s)


def ranking_metrics(y_true, score, ks: tuple[int, ...]) -> dict[str, float]:
    """PR-AUC, ROC-AUC, precision and recall at each k, lift in the top decile, and the base rate."""
    y = np.asarray(y_true, dtype=bool)
    s = _filled(score)
    both_classes = 0 < y.sum() < len(y)
    metrics = {
        "pr_auc": float(average_precision_score(y, s)) if y.any() else float("nan"),
        "roc_auc": float(roc_auc_score(y, s)) if both_classes else float("nan"),
        "lift_top_decile": lift_at_fraction(y, s, 0.1),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "n_rows": len(y),
        "n_positive": int(y.sum()),
    }
    for k in ks:
        metrics[f"precision_at_{k}"] = precision_at_k(y, s, k)
        metrics[f"recall_at_{k}"] = recall_at_k(y, s, k)
    return metrics


def pr_curve(y_true, score) -> pd.DataFrame:
    """Precision-recall curve points (recall ascending)."""
    precision, recall, _ = precision_recall_curve(np.asarray(y_true, dtype=bool), _filled(score))
    return pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})


def cumulative_gains(y_true, score, points: int = 100) -> pd.DataFrame:
    """Share of all positives captured when contacting the top x% of customers, at `points` steps."""
    ranked = _ranked_labels(y_true, score)
    n, positives = len(ranked), max(int(ranked.sum()), 1)
    captured = np.concatenate([[0], np.cumsum(ranked)]) / positives
    shares = np.linspace(0, 1, points + 1)
    idx = np.round(shares * n).astype(int)
    return pd.DataFrame({"share_contacted": shares, "share_of_positives": captured[idx]})
