import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features.labels import ELIGIBILITY_COLUMNS, KeyAccountRule, build_labels, eligibility
from tests.conftest import transactions_frame

REVENUE_SHARE_80 = KeyAccountRule(rule="revenue_share", revenue_share=0.8)


def test_revenue_share_bar_is_smallest_spend_among_customers_making_the_share():
    spend = pd.Series([500.0, 300.0, 100.0, 60.0, 40.0, 0.0, -5.0])  # total 1000 over positive spends
    # cumulative shares 0.5, 0.8, 0.9, ...: the first two make 80%, the bar is the second's spend.
    assert REVENUE_SHARE_80.bar(spend, 12) == 300
    assert KeyAccountRule(rule="revenue_share", revenue_share=0.85).bar(spend, 12) == 100


def test_top_share_and_absolute_bars():
    spend = pd.Series([500.0, 300.0, 100.0, 60.0, 40.0])
    assert KeyAccountRule(rule="top_share", top_share=0.2).bar(spend, 12) == 500
    assert KeyAccountRule(rule="top_share", top_share=0.4).bar(spend, 12) == 300
    assert KeyAccountRule(rule="absolute", absolute_amount=1200).bar(spend, 6) == 600  # scaled to 6 months
    assert math.isinf(KeyAccountRule().bar(pd.Series([0.0]), 12))


@pytest.mark.parametrize("settings_, key", [
    ({"revenue_share": 1.5}, "revenue_share"), ({"top_share": 0.0}, "top_share"),
    ({"absolute_amount": -1.0}, "absolute_amount"), ({"trailing_months": 0}, "trailing_months"),
    ({"trailing_months": 10**6}, "trailing_months"), ({"rule": "biggest"}, "rule"),
    ({"revenue_share": "0.8"}, "revenue_share"), ({"trailing_month": 12}, "trailing_month"),
])
def test_a_rule_out_of_range_or_with_an_unknown_key_is_refused_naming_the_key(settings_, key):
    with pytest.raises(ValidationError) as raised:
        KeyAccountRule(**settings_)
    assert [error["loc"] for error in raised.value.errors()] == [(key,)]


HISTORY = transactions_frame([
    ("BIG", "1", "2023-03-01", "x", 1000.0, 10),     # key account at the cutoff: not eligible
    ("GROW", "2", "2023-05-01", "x", 10.0, 10),      # small, active, then grows: positive
    ("GROW", "3", "2023-09-01", "x", 2000.0, 10),
    ("FLAT", "4", "2023-02-01", "x", 10.0, 10),      # small, active, stays small: negative
    ("FLAT", "5", "2023-08-01", "x", 10.0, 10),
    ("OLD", "6", "2021-01-01", "x", 50.0, 10),       # not active in the last 12 months: not eligible
    ("BIG", "7", "2023-08-01", "x", 500.0, 10),
    ("FUT", "8", "2024-07-01", "x", 9999.0, 10),     # after the outcome window: ignored
])
SPINE = pd.DataFrame({"customer_id": ["BIG", "GROW", "FLAT", "OLD"], "cutoff": pd.Timestamp("2023-07-01")})


def test_eligibility_and_label():
    labels = build_labels(HISTORY, SPINE, REVENUE_SHARE_80, 12, 12).set_index("customer_id")
    # trailing spends BIG 1000, GROW 10, FLAT 10: bar = 1000 (BIG alone is 98% of revenue)
    assert labels.loc["BIG", "key_account_bar"] == 1000
    assert labels["is_key_account"].to_dict() == {"BIG": True, "GROW": False, "FLAT": False, "OLD": False}
    assert labels["eligible"].to_dict() == {"BIG": False, "GROW": True, "FLAT": True, "OLD": False}
    # outcome window: GROW 2000, BIG 500, FLAT 10 → the bar is 2000 (GROW alone is 79%: GROW+BIG needed → 500)
    assert labels.loc["GROW", "outcome_bar"] == 500
    assert labels["became_key_account"].to_dict() == {"BIG": True, "GROW": True, "FLAT": False, "OLD": False}
    assert labels.loc["FLAT", "outcome_spend"] == pytest.approx(10)


def test_eligibility_alone_reads_only_the_lines_before_the_cutoff():
    frame = eligibility(HISTORY, SPINE, REVENUE_SHARE_80, 12)
    assert list(frame.columns) == ELIGIBILITY_COLUMNS
    frame = frame.set_index("customer_id")
    assert frame["trailing_spend"].to_dict() == {"BIG": 1000, "GROW": 10, "FLAT": 10, "OLD": 0}
    assert (frame["key_account_bar"] == 1000).all()
    assert frame["eligible"].to_dict() == {"BIG": False, "GROW": True, "FLAT": True, "OLD": False}
    # a shorter activity window: FLAT's last order (2023-02-01) is more than 4 months before the cutoff
    short = eligibility(HISTORY, SPINE, REVENUE_SHARE_80, 4).set_index("customer_id")
    assert short["eligible"].to_dict() == {"BIG": False, "GROW": True, "FLAT": False, "OLD": False}


def test_a_maximum_share_of_the_bar_keeps_only_the_customers_far_from_it():
    near = pd.concat([HISTORY, transactions_frame([("NEAR", "9", "2023-06-01", "x", 600.0, 10)])], ignore_index=True)
    spine = pd.concat([SPINE, pd.DataFrame({"customer_id": ["NEAR"], "cutoff": pd.Timestamp("2023-07-01")})])
    rule = KeyAccountRule(rule="absolute", absolute_amount=1000.0)  # bar 1000: BIG is a key account, NEAR is not
    plain = eligibility(near, spine, rule, 12).set_index("customer_id")
    assert plain["eligible"].to_dict() == {"BIG": False, "GROW": True, "FLAT": True, "OLD": False, "NEAR": True}
    far = eligibility(near, spine, rule, 12, max_share_of_bar=0.5).set_index("customer_id")  # below 500 only
    assert far["eligible"].to_dict() == {"BIG": False, "GROW": True, "FLAT": True, "OLD": False, "NEAR": False}
    labels = build_labels(near, spine, rule, 12, 12, max_share_of_bar=0.5).set_index("customer_id")
    assert labels["eligible"].to_dict() == far["eligible"].to_dict()


def test_a_cutoff_after_every_line_has_nobody_eligible():
    tx = transactions_frame([("A", "1", "2023-03-01", "x", 100.0, 10), ("B", "2", "2023-04-01", "x", 50.0, 10)])
    spine = pd.DataFrame({"customer_id": ["A", "B"], "cutoff": pd.Timestamp("2030-01-01")})
    frame = eligibility(tx, spine, REVENUE_SHARE_80, 12)
    assert frame["trailing_spend"].tolist() == [0.0, 0.0]
    assert not frame["eligible"].any() and not frame["is_key_account"].any()


CUSTOMERS = ["A", "B", "C", "D", "E"]
START = pd.Timestamp("2021-01-01")
rules = st.one_of(
    st.builds(KeyAccountRule, rule=st.just("revenue_share"), revenue_share=st.floats(0.05, 0.95),
              trailing_months=st.integers(1, 18)),
    st.builds(KeyAccountRule, rule=st.just("top_share"), top_share=st.floats(0.05, 0.95),
              trailing_months=st.integers(1, 18)),
    st.builds(KeyAccountRule, rule=st.just("absolute"), absolute_amount=st.floats(1.0, 5000.0),
              trailing_months=st.integers(1, 18)),
)


@st.composite
def history_and_spine(draw):
    days = 3 * 365
    rows = [(draw(st.sampled_from(CUSTOMERS)), f"I{i}",
             START + pd.Timedelta(minutes=draw(st.integers(0, days * 24 * 60))), "x",
             draw(st.floats(-300, 3000, allow_nan=False)), 10)
            for i in range(draw(st.integers(1, 40)))]
    cutoffs = draw(st.lists(st.integers(1, days + 60), min_size=1, max_size=3, unique=True))
    customers = draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=len(CUSTOMERS), unique=True))
    spine = pd.DataFrame([(c, START + pd.Timedelta(days=d)) for d in cutoffs for c in customers],
                         columns=["customer_id", "cutoff"])
    return transactions_frame(rows), spine


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_and_spine(), rules, st.integers(1, 18), st.integers(1, 18), st.integers(0, 10_000),
       st.one_of(st.none(), st.floats(0.05, 0.95)))
def test_eligibility_is_the_eligibility_of_the_labels_and_ignores_later_lines(data, rule, horizon, active, seed,
                                                                              max_share):
    tx, spine = data
    later = tx.assign(timestamp=spine["cutoff"].max() + pd.to_timedelta(tx.index * 7 + seed % 97, unit="D"),
                      amount=tx["amount"] * 5 + 11, invoice_id="L" + tx["invoice_id"])
    with_later_lines = pd.concat([tx, later], ignore_index=True)
    pd.testing.assert_frame_equal(
        eligibility(with_later_lines, spine, rule, active, max_share),
        build_labels(tx, spine, rule, horizon, active, max_share)[ELIGIBILITY_COLUMNS],
    )
