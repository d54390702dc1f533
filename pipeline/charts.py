"""Evaluation charts as matplotlib figures: saved by the evaluate stage (MLflow artifacts, model card) and
drawn by notebooks/02-model-report.ipynb from the same tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

MODEL = "model"
MIN_BIN_ROWS = 10  # reliability bins with fewer rows are noise and left out of the chart


def _styled_lines(ax, table: pd.DataFrame, x: str) -> None:
    for column in table.columns.drop(x):
        ax.plot(table[x], table[column], label=column.removesuffix("_baseline").replace("_", " "),
                linewidth=2.4 if column == MODEL else 1.2, linestyle=":" if column == "oracle" else "-")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def pr_curve_chart(pr: pd.DataFrame) -> Figure:
    """Precision-recall curves of every ranking on the test cutoff."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    _styled_lines(ax, pr, "recall")
    ax.set(xlabel="recall (share of future key accounts found)", ylabel="precision", title="Precision-recall")
    return fig


def gains_chart(gains: pd.DataFrame) -> Figure:
    """Cumulative gains: share of future key accounts among the top x% contacted."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    _styled_lines(ax, gains, "share_contacted")
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
    ax.set(xlabel="share of eligible customers contacted", ylabel="share of future key accounts",
           title="Cumulative gains")
    return fig


def precision_at_k_chart(at_k: pd.DataFrame) -> Figure:
    """Precision among the top k for the capacities a sales team has."""
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    _styled_lines(ax, at_k, "k")
    ax.set(xlabel="customers contacted (k)", ylabel="precision at k", title="Precision at sales capacity k")
    return fig


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
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    table = pr_auc_by_cutoff.assign(test_cutoff=pd.to_datetime(pr_auc_by_cutoff["test_cutoff"]))
    _styled_lines(ax, table, "test_cutoff")
    for line in ax.get_lines():
        line.set_marker("o")
    ax.set(xlabel="test cutoff", ylabel="PR-AUC", title="PR-AUC per backtest cutoff")
    fig.autofmt_xdate()
    return fig


def save_evaluation_charts(plot_tables: dict[str, pd.DataFrame], raw_reliability: pd.DataFrame,
                           pr_auc_by_cutoff: pd.DataFrame, folder: Path) -> None:
    """Write every evaluation chart as PNG into `folder`."""
    figures = {
        "pr_curve.png": pr_curve_chart(plot_tables["pr"]),
        "gains.png": gains_chart(plot_tables["gains"]),
        "precision_at_k.png": precision_at_k_chart(plot_tables["precision_at_k"]),
        "calibration.png": calibration_chart(plot_tables["calibration"], raw_reliability),
        "backtest.png": backtest_chart(pr_auc_by_cutoff),
    }
    for name, figure in figures.items():
        figure.tight_layout()
        figure.savefig(folder / name, dpi=100)
