"""Evaluation charts as matplotlib figures: saved by the evaluate stage (MLflow artifacts, model card) and
drawn by notebooks/02-model-report.ipynb from the same tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from models.rankings import MODEL, ORACLE, ranking_label

MIN_BIN_ROWS = 10  # reliability bins with fewer rows are noise and left out of the chart
BACKTEST_CHART, PR_CURVE_CHART = "backtest.png", "pr_curve.png"
PRECISION_AT_K_CHART, GAINS_CHART, CALIBRATION_CHART = "precision_at_k.png", "gains.png", "calibration.png"
CHART_FILES = (BACKTEST_CHART, PR_CURVE_CHART, PRECISION_AT_K_CHART, GAINS_CHART, CALIBRATION_CHART)


def _line_chart(table: pd.DataFrame, x: str, xlabel: str, ylabel: str, title: str, diagonal: bool = False,
                ) -> Figure:
    """One line per ranking column of `table` against column `x`; the model bold, the oracle dotted."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    ax.set_prop_cycle(color=colormaps["tab20"].colors)  # a dozen baselines: the default ten colours would repeat
    for column in table.columns.drop(x):
        model = column == MODEL
        ax.plot(table[x], table[column], label=ranking_label(column), color="black" if model else None,
                linewidth=2.4 if model else 1.2, linestyle=":" if column == ORACLE else "-")
    if diagonal:
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the lines, not over them
    return fig


def pr_curve_chart(pr: pd.DataFrame) -> Figure:
    """Precision-recall curves of every ranking on the test cutoff."""
    return _line_chart(pr, "recall", "recall (share of future key accounts found)", "precision", "Precision-recall")


def gains_chart(gains: pd.DataFrame) -> Figure:
    """Cumulative gains: share of future key accounts among the top x% contacted."""
    return _line_chart(gains, "share_contacted", "share of eligible customers contacted",
                       "share of future key accounts", "Cumulative gains", diagonal=True)


def precision_at_k_chart(at_k: pd.DataFrame) -> Figure:
    """Precision among the top k for the capacities a sales team has."""
    return _line_chart(at_k, "k", "customers contacted (k)", "precision at k", "Precision at sales capacity k")


def calibration_chart(calibrated: pd.DataFrame, raw: pd.DataFrame) -> Figure:
    """Reliability diagram: observed key-account rate against the predicted probability, raw and calibrated."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="perfect")
    for table, label in ((raw, "raw model score"), (calibrated, "calibrated probability")):
        table = table[table["count"] >= MIN_BIN_ROWS]
        ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=label)
    ax.set(xlabel="mean predicted probability", ylabel="observed share that became key accounts",
           title=f"Calibration (test cutoff; bins of ≥ {MIN_BIN_ROWS} customers)", xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def backtest_chart(pr_auc_by_cutoff: pd.DataFrame) -> Figure:
    """PR-AUC of every ranking per backtest test cutoff."""
    table = pr_auc_by_cutoff.assign(test_cutoff=pd.to_datetime(pr_auc_by_cutoff["test_cutoff"]))
    fig = _line_chart(table, "test_cutoff", "test cutoff", "PR-AUC", "PR-AUC per backtest cutoff")
    for line in fig.axes[0].get_lines():
        line.set_marker("o")
    fig.autofmt_xdate()
    return fig


def save_evaluation_charts(plot_tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """Write every evaluation chart as PNG into `folder`, from models.backtest.curves' tables and the PR-AUC per
    backtest cutoff (`backtest`)."""
    figures = {
        BACKTEST_CHART: backtest_chart(plot_tables["backtest"]),
        PR_CURVE_CHART: pr_curve_chart(plot_tables["pr"]),
        PRECISION_AT_K_CHART: precision_at_k_chart(plot_tables["precision_at_k"]),
        GAINS_CHART: gains_chart(plot_tables["gains"]),
        CALIBRATION_CHART: calibration_chart(plot_tables["calibration"], plot_tables["raw_calibration"]),
    }
    for name, figure in figures.items():
        figure.tight_layout()
        figure.savefig(folder / name, dpi=100)
