"""The names of the rankings an evaluation compares: the model, the baselines sales would use without it, and
on demo data the generator's oracle. Every table of predictions and metrics names its columns or rows so."""

from __future__ import annotations

from collections.abc import Iterable

MODEL = "model"
ORACLE = "oracle"  # demo data only: the best ranking one could know at the cutoff
BASELINE_SUFFIX = "_baseline"
SPEND_RANK = "spend_rank" + BASELINE_SUFFIX  # what sales do without the model: rank by trailing 365-day spend
GROWTH_RANK = "growth_rank" + BASELINE_SUFFIX
RFM = "rfm" + BASELINE_SUFFIX
LOGISTIC_REGRESSION = "logistic_regression" + BASELINE_SUFFIX  # the one baseline whose scores are probabilities
BGNBD = "bgnbd_gamma_gamma" + BASELINE_SUFFIX
BASELINES = (SPEND_RANK, GROWTH_RANK, RFM, LOGISTIC_REGRESSION, BGNBD)
RANKINGS = (MODEL, *BASELINES, ORACLE)


def rankings_in(columns: Iterable[str]) -> list[str]:
    """The ranking names among `columns` (of a predictions frame, say), in their order."""
    return [c for c in columns if c in RANKINGS]


def ranking_label(name: str) -> str:
    """A ranking's name for a chart legend: 'spend rank' for spend_rank_baseline."""
    return name.removesuffix(BASELINE_SUFFIX).replace("_", " ")
