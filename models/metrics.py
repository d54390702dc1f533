"""Ranking, revenue and calibration metrics for a sales team that can call only the top k customers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

ArrayLike = pd.Series | np.ndarray | Sequence[float]


def _descending_order(score: ArrayLike) -> np.ndarray:
    """Row positions by descending score; NaN scores last, ties broken by original order (stable sort)."""
    s = np.asarray(score, dtype="float64")
    s = np.where(np.isnan(s), -np.inf, s)
    return np.argsort(-s, kind="stable")


def _ranked_labels(y_true: ArrayLike, score: ArrayLike) -> np.ndarray:
    """Labels sorted by descending score; ties broken by original order (stable sort)."""
    y = np.asarray(y_true, dtype=bool)
    if y.shape != np.shape(score):
        raise ValueError("labels and scores must have the same length")
    return y[_descending_order(score)]


def precision_at_k(y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """Share of positives among the k highest scores (k capped at the number of rows)."""
    ranked = _ranked_labels(y_true, score)
    k = min(k, len(ranked))
    return float(ranked[:k].mean()) if k else float("nan")


def recall_at_k(y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """Share of all positives found among the k highest scores."""
    ranked = _ranked_labels(y_true, score)
    positives = ranked.sum()
    return float(ranked[: min(k, len(ranked))].sum() / positives) if positives else float("nan")


def lift_at_fraction(y_true: ArrayLike, score: ArrayLike, fraction: float = 0.1) -> float:
    """Positive rate in the top `fraction` of scores divided by the overall positive rate."""
    ranked = _ranked_labels(y_true, score)
    base_rate = ranked.mean() if len(ranked) else 0.0
    k = max(1, int(np.ceil(fraction * len(ranked))))
    return float(ranked[:k].mean() / base_rate) if base_rate > 0 else float("nan")


def revenue_captured_at_k(future_revenue: ArrayLike, y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """Share of the positives' total future revenue held by the positives among the k highest scores.

    Missing revenue counts as 0. NaN when the positives have no (positive) revenue in total.
    """
    revenue = np.nan_to_num(np.asarray(future_revenue, dtype="float64"), nan=0.0)
    y = np.asarray(y_true, dtype=bool)
    if revenue.shape != y.shape:
        raise ValueError("revenue and labels must have the same length")
    positive_revenue = np.where(y, revenue, 0.0)
    total = positive_revenue.sum()
    if not total > 0:
        return float("nan")
    top_k = _descending_order(score)[: max(k, 0)]
    return float(positive_revenue[top_k].sum() / total)


def _gini(actual: np.ndarray, order: np.ndarray) -> float:
    """Unnormalised Gini of `actual` taken in `order`: area between its cumulative share and the diagonal."""
    ordered = actual[order]
    cumulative_share = np.cumsum(ordered) / ordered.sum()
    return float(cumulative_share.sum() / len(ordered) - (len(ordered) + 1) / (2 * len(ordered)))


def normalized_gini(actual: ArrayLike, score: ArrayLike) -> float:
    """Gini of `actual` ordered by descending score over the Gini of `actual` ordered by itself.

    1.0 for a perfect ordering, about 0 for a random one, negative for a reversed one (the Kaggle
    Porto-Seguro definition). Tied scores keep the original row order and NaN scores rank last, so
    ties can move the value. Missing actuals count as 0; NaN when `actual` sums to 0 or is constant.
    """
    values = np.nan_to_num(np.asarray(actual, dtype="float64"), nan=0.0)
    if values.shape != np.shape(score):
        raise ValueError("actual and scores must have the same length")
    if len(values) == 0 or values.sum() == 0:
        return float("nan")
    best = _gini(values, _descending_order(values))
    return _gini(values, _descending_order(score)) / best if best != 0 else float("nan")


def _probabilities(y_true: ArrayLike, probability: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of the rows that have a probability; ValueError outside [0, 1]."""
    y = np.asarray(y_true, dtype=bool)
    p = np.asarray(probability, dtype="float64")
    if y.shape != p.shape:
        raise ValueError("labels and probabilities must have the same length")
    present = ~np.isnan(p)
    if ((p[present] < 0) | (p[present] > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return y[present], p[present]


def brier_score(y_true: ArrayLike, probability: ArrayLike) -> float:
    """Mean squared difference between probability and outcome; rows without a probability are left out."""
    y, p = _probabilities(y_true, probability)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def reliability_curve(y_true: ArrayLike, probability: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed positive rate in equal-width bins on [0, 1].

    Bin i holds [i/bins, (i+1)/bins), the last bin also holds 1.0. Only non-empty bins are returned;
    rows without a probability are left out.
    """
    y, p = _probabilities(y_true, probability)
    index = np.minimum(np.floor(p * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    predicted_sum = np.bincount(index, weights=p, minlength=bins)
    positive_sum = np.bincount(index, weights=y.astype(float), minlength=bins)
    filled = count > 0
    lower = np.arange(bins) / bins
    return pd.DataFrame({
        "bin_lower": lower[filled],
        "bin_upper": lower[filled] + 1 / bins,
        "mean_predicted": predicted_sum[filled] / count[filled],
        "observed_rate": positive_sum[filled] / count[filled],
        "count": count[filled],
    })


def expected_calibration_error(y_true: ArrayLike, probability: ArrayLike, bins: int = 10) -> float:
    """|mean predicted − observed rate| per equal-width bin, averaged with the bins' row counts as weights."""
    curve = reliability_curve(y_true, probability, bins)
    if curve.empty:
        return float("nan")
    gap = (curve["mean_predicted"] - curve["observed_rate"]).abs()
    return float(np.average(gap, weights=curve["count"]))


def _weighted_average_precision(y_sorted: np.ndarray, weights: np.ndarray, group_end: np.ndarray) -> np.ndarray:
    """Average precision of rows sorted by descending score, each counted `weights` times (one row of weights
    per replicate); `group_end` marks the last row of each group of tied scores (the curve's thresholds).
    Equal to sklearn's average_precision_score on the rows repeated by their weights; NaN without positives."""
    true_positives = np.cumsum(weights * y_sorted, axis=1)[:, group_end]
    selected = np.cumsum(weights, axis=1)[:, group_end]
    positives = true_positives[:, -1]
    precision = np.divide(true_positives, selected, out=np.zeros(selected.shape), where=selected > 0)
    recall_steps = np.diff(true_positives, axis=1, prepend=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(positives > 0, (recall_steps * precision).sum(axis=1) / positives, np.nan)


def bootstrap_average_precision(y_true: ArrayLike, score: ArrayLike, n_resamples: int = 1000,
                                seed: int = 0) -> np.ndarray:
    """PR-AUC (average precision) of `n_resamples` bootstrap resamples of the rows (with replacement).

    The resampled rows depend only on the seed and the number of rows, not on the score: replicates of two
    rankings of the same rows with the same seed are paired (for intervals of differences and ratios).
    NaN for resamples without a positive.
    """
    y = np.asarray(y_true, dtype=bool)
    order = _descending_order(score)
    if y.shape != order.shape:
        raise ValueError("labels and scores must have the same length")
    sorted_score = _filled(score)[order]
    group_end = np.flatnonzero(np.r_[sorted_score[1:] != sorted_score[:-1], True])
    y_sorted = y[order].astype("float64")
    rng = np.random.default_rng(seed)
    n = len(y)
    chunk = max(1, min(n_resamples, 2_000_000 // max(n, 1)))  # bounds each weights matrix to ~16 MB
    replicates = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        rows = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        weights = np.bincount(rows.ravel(), minlength=size * n).reshape(size, n)[:, order]
        replicates.append(_weighted_average_precision(y_sorted, weights, group_end))
    return np.concatenate(replicates) if replicates else np.empty(0)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of replicates (NaN ones left out; (NaN, NaN) if none is left)."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie in (0, 1)")
    finite = np.asarray(replicates, dtype="float64")
    finite = finite[~np.isnan(finite)]
    if not len(finite):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.percentile(finite, [tail, 100 - tail])
    return float(lower), float(upper)


def _capacity_size(capacity: int | float, n_rows: int) -> tuple[str, int]:
    """Label and row count of a capacity: an int is a count, a float in (0, 1) a share (5pct for 0.05)."""
    if isinstance(capacity, bool):
        raise ValueError(f"capacity must be an int count or a float share, got {capacity!r}")
    if isinstance(capacity, int | np.integer):
        if capacity < 1:
            raise ValueError(f"capacity counts must be at least 1, got {capacity}")
        return str(int(capacity)), int(capacity)
    if not 0 < capacity < 1:
        raise ValueError(f"capacity shares must lie in (0, 1), got {capacity}")
    return f"{round(capacity * 100, 6):g}pct", math.ceil(round(capacity * n_rows, 9))


def capacity_metrics(y_true: ArrayLike, score: ArrayLike, future_revenue: ArrayLike,
                     capacities: tuple[int | float, ...]) -> dict[str, float]:
    """Precision, recall, lift and revenue captured when the team can contact each capacity's top rows.

    An int capacity is a count k, a float in (0, 1) a share of rows (k = ceil(share × n)); keys are
    `precision_at_100` or `precision_at_5pct` and so on. Without future_revenue (None) the
    revenue_captured keys are left out.
    """
    y = np.asarray(y_true, dtype=bool)
    base_rate = y.mean() if len(y) else 0.0
    metrics: dict[str, float] = {}
    for capacity in capacities:
        label, k = _capacity_size(capacity, len(y))
        precision = precision_at_k(y, score, k)
        metrics[f"precision_at_{label}"] = precision
        metrics[f"recall_at_{label}"] = recall_at_k(y, score, k)
        metrics[f"lift_at_{label}"] = float(precision / base_rate) if base_rate > 0 else float("nan")
        if future_revenue is not None:
            metrics[f"revenue_captured_at_{label}"] = revenue_captured_at_k(future_revenue, y, score, k)
    return metrics


def _filled(score: ArrayLike) -> np.ndarray:
    s = np.asarray(score, dtype="float64")
    return np.where(np.isnan(s), np.nanmin(s) - 1 if np.isfinite(s).any() else 0.0, s)


def _area_metrics(y: np.ndarray, filled_score: np.ndarray) -> dict[str, float]:
    """PR-AUC (NaN without positives) and ROC-AUC (NaN with one class)."""
    both_classes = 0 < y.sum() < len(y)
    return {
        "pr_auc": float(average_precision_score(y, filled_score)) if y.any() else float("nan"),
        "roc_auc": float(roc_auc_score(y, filled_score)) if both_classes else float("nan"),
    }


def ranking_metrics(y_true: ArrayLike, score: ArrayLike, ks: tuple[int, ...],
                    future_revenue: ArrayLike | None = None) -> dict[str, float]:
    """PR-AUC, ROC-AUC, precision and recall at each k, lift in the top decile, and the base rate.

    With future_revenue also the normalized Gini of the revenue and the revenue captured at each k.
    """
    y = np.asarray(y_true, dtype=bool)
    s = _filled(score)
    metrics = {
        **_area_metrics(y, s),
        "lift_top_decile": lift_at_fraction(y, s, 0.1),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "n_rows": len(y),
        "n_positive": int(y.sum()),
    }
    for k in ks:
        metrics[f"precision_at_{k}"] = precision_at_k(y, s, k)
        metrics[f"recall_at_{k}"] = recall_at_k(y, s, k)
    if future_revenue is not None:
        metrics["normalized_gini"] = normalized_gini(future_revenue, s)
        for k in ks:
            metrics[f"revenue_captured_at_{k}"] = revenue_captured_at_k(future_revenue, y, s, k)
    return metrics


MIN_SEGMENT_ROWS, MIN_SEGMENT_POSITIVES = 50, 5  # smaller segments are listed without metrics (noise)


def segment_metrics(
    frame: pd.DataFrame,
    segment_column: str,
    y_column: str,
    score_columns: list[str],
    min_rows: int = MIN_SEGMENT_ROWS,
    min_positives: int = MIN_SEGMENT_POSITIVES,
) -> pd.DataFrame:
    """PR-AUC and ROC-AUC of each score column within each segment.

    One row per (segment, score_column), segments by descending size. Missing segment values form the
    segment "unknown". Segments with fewer than min_rows rows or min_positives positives are kept
    with enough_data False and NaN metrics.
    """
    segments = frame[segment_column].astype(object).where(frame[segment_column].notna(), "unknown")
    y = frame[y_column].astype(bool).to_numpy()
    groups = segments.groupby(segments, sort=False).indices
    order = sorted(groups, key=lambda segment: (-len(groups[segment]), str(segment)))
    records = []
    for segment in order:
        rows = groups[segment]
        y_segment = y[rows]
        n_positive = int(y_segment.sum())
        enough_data = len(rows) >= min_rows and n_positive >= min_positives
        for column in score_columns:
            areas = (
                _area_metrics(y_segment, _filled(frame[column].to_numpy(dtype="float64", na_value=np.nan)[rows]))
                if enough_data
                else {"pr_auc": float("nan"), "roc_auc": float("nan")}
            )
            records.append({
                "segment": segment,
                "score_column": column,
                "n_rows": len(rows),
                "n_positive": n_positive,
                "positive_rate": n_positive / len(rows),
                **areas,
                "enough_data": enough_data,
            })
    columns = ["segment", "score_column", "n_rows", "n_positive", "positive_rate", "pr_auc", "roc_auc", "enough_data"]
    return pd.DataFrame(records, columns=columns)


def pr_curve(y_true: ArrayLike, score: ArrayLike) -> pd.DataFrame:
    """Precision-recall curve points (recall ascending)."""
    precision, recall, _ = precision_recall_curve(np.asarray(y_true, dtype=bool), _filled(score))
    return pd.DataFrame({"recall": recall[::-1], "precision": precision[::-1]})


def cumulative_gains(y_true: ArrayLike, score: ArrayLike, points: int = 100) -> pd.DataFrame:
    """Share of all positives captured when contacting the top x% of customers, at `points` steps."""
    ranked = _ranked_labels(y_true, score)
    n, positives = len(ranked), max(int(ranked.sum()), 1)
    captured = np.concatenate([[0], np.cumsum(ranked)]) / positives
    shares = np.linspace(0, 1, points + 1)
    idx = np.round(shares * n).astype(int)
    return pd.DataFrame({"share_contacted": shares, "share_of_positives": captured[idx]})
