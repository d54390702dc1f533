"""The HTML sales report: the ranked prospect list with reasons. Every input string is escaped."""

from __future__ import annotations

import html

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
"""


def sales_report_html(prospects: pd.DataFrame, as_of: str, model_version: str, top_n: int) -> str:
    """A self-contained HTML page of the top `top_n` prospects."""
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
        f"{table}\n</body></html>\n"
    )
