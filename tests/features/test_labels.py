import math

import pandas as pd
import pytest

from features.labels import KeyAccountRule, build_labels
from tests.conftest import transactions_frame


def test_revenue_share_bar_is_smallest_spend_among_customers_making_the_share():
    spend = pd.Series([500.0, 300.0, 100.0, 60.0, 40.0, 0.0, -5.0])  # total 1000 over positive spends
    # cumulative shares 0.5, 0.8, 0.9, ...: the first two make 80%, the bar is the second's spend.
    assert KeyAccountRule("revenue_share", revenue_share=0.8).bar(spend, 12) == 300
    assert KeyAccountRule("revenue_share", revenue_share=0.85).bar(spend, 12) == 100


def test_top_share_and_absolute_bars():
    spend = pd.Series([500.0, 300.0, 100.0, 60.0, 40.0])
    assert KeyAccountRule("top_share", top_share=0.2).bar(spend, 12) == 500
    assert KeyAccountRule("top_share", top_share=0.4).bar(spend, 12) == 300
    assert KeyAccountRule("absolute", absolute_amount=1200).bar(spend, 6) == 600  # scaled to 6 months
    assert math.isinf(KeyAccountRule().bar(pd.Series([0.0]), 12))


def test_eligibility_and_label():
    tx = transactions_frame([
        ("BIG", "1", "2023-03-01", "x", 1000.0, 10),     # key account at the cutoff: not eligible
        ("GROW", "2", "2023-05-01", "x", 10.0, 10),      # small, active, then grows: positive
        ("GROW", "3", "2023-09-01", "x", 2000.0, 10),
        ("FLAT", "4", "2023-02-01", "x", 10.0, 10),      # small, active, stays small: negative
        ("FLAT", "5", "2023-08-01", "x", 10.0, 10),
        ("OLD", "6", "2021-01-01", "x", 50.0, 10),       # not active in the last 12 months: not eligible
        ("BIG", "7", "2023-08-01", "x", 500.0, 10),
        ("FUT", "8", "2024-07-01", "x", 9999.0, 10),     # after the outcome window: ignored
    ])
    spine = pd.DataFrame({"customer_id": ["BIG", "GROW", "FLAT", "OLD"], "cutoff": pd.Timestamp("2023-07-01")})
    labels = build_labels(tx, spine, KeyAccountRule("revenue_share", revenue_share=0.8), 12, 12, 12)
    labels = labels.set_index("customer_id")
    # trailing spends BIG 1000, GROW 10, FLAT 10: bar = 1000 (BIG alone is 98% of revenue)
    assert labels.loc["BIG", "key_account_bar"] == 1000
    assert labels["is_key_account"].to_dict() == {"BIG": True, "GROW": False, "FLAT": False, "OLD": False}
    assert labels["eligible"].to_dict() == {"BIG": False, "GROW": True, "FLAT": True, "OLD": False}
    # outcome window: GROW 2000, BIG 500, FLAT 10 → the bar is 2000 (GROW alone is 79%: GROW+BIG needed → 500)
    assert labels.loc["GROW", "outcome_bar"] == 500
    assert labels["became_key_account"].to_dict() == {"BIG": True, "GROW": True, "FLAT": False, "OLD": False}
    assert labels.loc["FLAT", "outcome_spend"] == pytest.approx(10)


def test_a_cutoff_after_every_line_has_nobody_eligible():
    tx = transactions_frame([("A", "1", "2023-03-01", "x", 100.0, 10), ("B", "2", "2023-04-01", "x", 50.0, 10)])
    spine = pd.DataFrame({"customer_id": ["A", "B"], "cutoff": pd.Timestamp("2030-01-01")})
    labels = build_labels(tx, spine, KeyAccountRule("revenue_share", revenue_share=0.8), 0, 12, 12)
    assert labels["trailing_spend"].tolist() == [0.0, 0.0]
    assert not labels["eligible"].any() and not labels["is_key_account"].any()
