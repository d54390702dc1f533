"""The HTML sales report: the ranked prospect list with reasons. Every input string is escaped."""

from __future__ import annotations

import html

import pandas as pd

from models.rankings import MODEL, SPEND_RANK, ranking_description

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
"""


def key_accounts_reached(metrics: dict, k: int, n_positive: float) -> int:
    """Future key accounts among a ranking's top `k`, from its recall_at_<k>."""
    return round(metrics[f"recall_at_{k}"] * n_positive)


def track_record(test_cutoff: str, horizon_months: int, k: int, metrics: dict[str, dict], strongest_at_k: str) -> str:
    """Plain words for sales leads: how many future key accounts the model's top `k` held on its test cutoff,
    against ranking by 365-day spend (what sales do without it) and against the strongest simple baseline at that
    capacity, named. `metrics` holds each ranking's metrics by name: the model's n_positive, n_rows and
    recall_at_<k>, the others' recall_at_<k>."""
    model = metrics[MODEL]
    positives = model["n_positive"]

    def reached(name: str) -> int:
        return key_accounts_reached(metrics[name], k, positives)

    today = f"{ranking_description(SPEND_RANK)}, as without the model"
    compared = (f"{today} and the strongest simple rule at that capacity, {reached(SPEND_RANK)}"
                if strongest_at_k == SPEND_RANK else
                f"{today}, {reached(SPEND_RANK)}; the strongest simple rule at that capacity "
                f"({strongest_at_k}: {ranking_description(strongest_at_k)}), {reached(strongest_at_k)}")
    return (f"On the test cutoff {test_cutoff}, {positives:,.0f} of the {model['n_rows']:,.0f} eligible customers "
            f"became key accounts within {horizon_months} months. A team calling the model's top {k} would have "
            f"reached {reached(MODEL)} of them; {compared}.")


def sales_report_html(prospects: pd.DataFrame, as_of: str, model_version: str, top_n: int,
                      record: str | None = None) -> str:
    """A self-contained HTML page of the top `top_n` prospects; `record` (the model's `track_record`) says how far
    to trust the list."""
    shown = prospects.head(top_n).copy()
    shown["probability"] = shown["probability"].map(lambda p: f"{p:.1%}")
    shown["spend_12m"] = shown["spend_12m"].map(lambda v: f"{v:,.0f}")
    table = shown.to_html(index=False, escape=True, border=0)
    title = f"Key-account prospects as of {html.escape(as_of)}"
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
        f"<p>{len(prospects):,} eligible customers ranked by their probability of reaching the key-account bar "
        f"within the horizon; top {len(shown):,} shown. Model version {html.escape(model_version)}. "
        "Reasons name the facts that moved each customer's score most.</p>\n"
        + ("" if record is None else f"<p>How far to trust this list: {html.escape(record)}</p>\n")
        + f"{table}\n</body></html>\n"
    )
