"""The names of the rankings an evaluation compares: the model, the simple baselines sales could use without it,
and on demo data the generator's oracle. Every table of predictions and metrics names its columns or rows so.

Every baseline's name ends in `_baseline`: that suffix is what makes a column a baseline (`is_baseline`), so
window-dependent names (`spend_rank_90d_baseline`) need no fixed list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MODEL = "model"
ORACLE = "oracle"  # demo data only: the best ranking one could know at the cutoff
BASELINE_SUFFIX = "_baseline"
SPEND_RANK_WINDOW_DAYS = 365  # today's sales heuristic ranks by trailing 365-day spend
SPEND_RANK = "spend_rank" + BASELINE_SUFFIX  # what sales do without the model (reports and docs speak of it)
ORDER_COUNT_RANK = "order_count_rank" + BASELINE_SUFFIX
RECENCY_WEIGHTED_SPEND_RANK = "recency_weighted_spend_rank" + BASELINE_SUFFIX
RECENCY_HALF_LIFE_DAYS = 90  # of the recency-weighted spend: an order this many days before the cutoff counts half
GROWTH_RANK = "growth_rank" + BASELINE_SUFFIX
RFM = "rfm" + BASELINE_SUFFIX
LOGISTIC_REGRESSION = "logistic_regression" + BASELINE_SUFFIX  # the one baseline whose scores are probabilities
BGNBD = "bgnbd_gamma_gamma" + BASELINE_SUFFIX
_SPEND_WINDOW_NAME = re.compile(r"spend_rank_(\d+)([dm])" + BASELINE_SUFFIX)


def spend_rank(window_days: int) -> str:
    """The ranking by net spend over the last `window_days` days: `spend_rank_baseline` for 365 days (today's
    heuristic), else `spend_rank_<w>d_baseline`."""
    return SPEND_RANK if window_days == SPEND_RANK_WINDOW_DAYS else f"spend_rank_{window_days}d{BASELINE_SUFFIX}"


def bar_window_spend_rank(trailing_months: int) -> str:
    """The ranking by net spend over the key-account bar's trailing window: `spend_rank_<m>m_baseline`."""
    return f"spend_rank_{trailing_months}m{BASELINE_SUFFIX}"


def bar_window_is_a_feature_window(trailing_months: int, windows_days: Iterable[int]) -> bool:
    """Whether the bar's trailing window is one of the feature windows: n whole years are the 365·n-day window
    but for the leap days (one day's orders in four years), so ranking by both would list one ranking twice."""
    return trailing_months % 12 == 0 and 365 * trailing_months // 12 in set(windows_days)


def baseline_names(windows_days: Iterable[int], trailing_months: int) -> tuple[str, ...]:
    """Every baseline an evaluation scores, in table order: spend rank at each feature window and at the bar's
    trailing window (unless that is a feature window), order-count rank, recency-weighted spend rank, growth rank,
    RFM, logistic regression and BG/NBD + Gamma-Gamma."""
    windows = tuple(windows_days)
    bar = () if bar_window_is_a_feature_window(trailing_months, windows) else (bar_window_spend_rank(trailing_months),)
    return (*(spend_rank(w) for w in windows), *bar, ORDER_COUNT_RANK, RECENCY_WEIGHTED_SPEND_RANK, GROWTH_RANK, RFM,
            LOGISTIC_REGRESSION, BGNBD)


def is_baseline(name: str) -> bool:
    """Whether a ranking is one of the simple baselines (not the model, not the oracle)."""
    return name.endswith(BASELINE_SUFFIX)


def rankings_in(columns: Iterable[str]) -> list[str]:
    """The ranking names among `columns` (of a predictions frame, say), in their order."""
    return [c for c in columns if c in (MODEL, ORACLE) or is_baseline(c)]


def ranking_label(name: str) -> str:
    """A ranking's name for a chart legend: 'spend rank' for spend_rank_baseline, 'spend rank 90d' for
    spend_rank_90d_baseline."""
    return name.removesuffix(BASELINE_SUFFIX).replace("_", " ")


_DESCRIPTIONS = {
    MODEL: "the model",
    ORACLE: "the generator's oracle on demo data",
    ORDER_COUNT_RANK: "ranking by the number of orders in the last 365 days, ties broken by spend",
    RECENCY_WEIGHTED_SPEND_RANK: f"ranking by spend weighted by recency, an order {RECENCY_HALF_LIFE_DAYS} days old "
                                 "counting half",
    GROWTH_RANK: "ranking by the growth of spend over the last 90 days",
    RFM: "ranking by RFM score, the sum of recency, frequency and spend quintiles",
    LOGISTIC_REGRESSION: "a logistic regression on the model's features",
    BGNBD: "ranking by BG/NBD + Gamma-Gamma expected spend",
}


def ranking_description(name: str) -> str:
    """A ranking in plain words for sales (no parentheses, so it reads inside them): 'ranking by spend over the last
    90 days' for spend_rank_90d_baseline."""
    if name == SPEND_RANK:
        return f"ranking by spend over the last {SPEND_RANK_WINDOW_DAYS} days"
    window = _SPEND_WINDOW_NAME.fullmatch(name)
    if window:
        length, unit = window.groups()
        return (f"ranking by spend over the last {length} days" if unit == "d" else
                f"ranking by spend over the last {length} months, the key-account bar's window")
    return _DESCRIPTIONS.get(name, ranking_label(name))
