"""The sales report: plain-words track record, escaped strings."""

import pandas as pd

from pipeline.common.report import key_accounts_reached, sales_report_html, track_record

METRICS = {"model": {"n_positive": 475.0, "n_rows": 12661.0, "recall_at_100": 98 / 475},
           "spend_rank_baseline": {"recall_at_100": 32 / 475}, "spend_rank_90d_baseline": {"recall_at_100": 91 / 475}}


def test_track_record_counts_the_key_accounts_in_each_top_k_and_names_the_strongest_rule():
    assert key_accounts_reached({"recall_at_10": 0.25}, 10, 40) == 10
    assert track_record("2024-01-01", 12, 100, METRICS, "spend_rank_90d_baseline") == (
        "On the test cutoff 2024-01-01, 475 of the 12,661 eligible customers became key accounts within 12 months. "
        "A team calling the model's top 100 would have reached 98 of them; ranking by spend over the last 365 days, "
        "as without the model, 32; the strongest simple rule at that capacity (spend_rank_90d_baseline: ranking by "
        "spend over the last 90 days), 91.")


def test_track_record_names_the_spend_rank_once_when_it_is_the_strongest_rule():
    assert track_record("2024-01-01", 12, 100, METRICS, "spend_rank_baseline").endswith(
        "would have reached 98 of them; ranking by spend over the last 365 days, as without the model and the "
        "strongest simple rule at that capacity, 32.")


def test_report_states_the_track_record_escaped_and_only_when_known():
    prospects = pd.DataFrame({"rank": [1], "company_name": ["<b>Bold & Co</b>"], "spend_12m": [1234.5],
                              "probability": [0.25]})
    page = sales_report_html(prospects, "2025-01-01", "7", 10, "top 100 held <98>")
    assert "<p>How far to trust this list: top 100 held &lt;98&gt;</p>" in page
    assert "&lt;b&gt;Bold &amp; Co&lt;/b&gt;" in page and "<b>" not in page
    assert "How far to trust" not in sales_report_html(prospects, "2025-01-01", "7", 10)
