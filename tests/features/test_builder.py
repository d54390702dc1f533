import numpy as np
import pandas as pd
import pytest

from features.builder import build_features, feature_columns
from tests.conftest import customers_frame

CUTOFF = pd.Timestamp("2023-07-01")


def features_at(transactions, cutoff=CUTOFF, customers=("A", "B"), snapshots=None):
    spine = pd.DataFrame({"customer_id": list(customers), "cutoff": cutoff})
    frame = build_features(transactions, customers_frame(["A", "B"]), spine, snapshots=snapshots)
    return frame.set_index("customer_id")


def test_known_answers_for_customer_a(known_history):
    a = features_at(known_history).loc["A"]
    assert a["spend_sum_90d"] == pytest.approx(300 - 60)
    assert a["orders_count_90d"] == 1
    assert a["order_value_mean_90d"] == pytest.approx(300)
    assert a["spend_sum_180d"] == pytest.approx(250 + 300 - 60)
    assert a["orders_count_180d"] == 2
    assert a["order_value_mean_180d"] == pytest.approx((250 + 300) / 2)
    assert a["spend_sum_365d"] == pytest.approx(100 + 250 + 240)
    assert a["spend_sum_prev_90d"] == pytest.approx(250)  # 2023-03-10 lies in [cutoff-180d, cutoff-90d)
    assert a["spend_growth_90d"] == pytest.approx((240 - 250) / (240 + 250))
    assert a["orders_growth_90d"] == pytest.approx(0.0)
    assert a["spend_sum_all"] == pytest.approx(590)
    assert a["orders_count_all"] == 3
    assert a["recency_days_since_last_order"] == 11
    assert a["tenure_days_since_first_order"] == 351
    assert a["categories_distinct_365d"] == 3
    assert a["categories_new_90d"] == 1  # Safety first bought on 2023-06-20
    assert a["returns_share_365d"] == pytest.approx(60 / 650)
    # I3 is paid on 2023-07-10, after the cutoff: only I1 (10 days) and I2 (30 days) count.
    assert a["payment_days_mean_365d"] == pytest.approx(20)
    assert a["firm_credit_score"] == 5
    assert a["firm_age_years"] == 23
    assert a["firm_industry"] == "Retail"


def test_spend_percentile_is_relative_to_all_buying_customers_whatever_the_spine(known_history):
    both = features_at(known_history)
    assert both.loc["A", "spend_percentile_365d"] == 1.0 and both.loc["B", "spend_percentile_365d"] == 0.5
    assert both.loc["A", "spend_percentile_90d"] == 1.0
    assert both.loc["B", "spend_percentile_90d"] == 0.0  # no purchase in the last 90 days
    alone = features_at(known_history, customers=("B",))
    assert alone.loc["B", "spend_percentile_365d"] == 0.5  # A still counts although not in the spine


def test_known_answers_for_seasonal_trend_cadence_payment_and_wallet_families(known_history):
    frame = features_at(known_history)
    a, b = frame.loc["A"], frame.loc["B"]
    assert a["spend_sum_prev_year_90d"] == pytest.approx(100)  # I1 on 2022-07-15 lies in [cutoff-365d, -275d)
    assert a["spend_growth_yoy_90d"] == pytest.approx((240 - 100) / 340)
    # 30-day buckets, oldest first t=0..11: 100 at t=0, 250 at t=8, 240 at t=11; centred at 5.5; sum (t-5.5)^2 = 143
    assert a["spend_slope_365d"] == pytest.approx((-5.5 * 100 + 2.5 * 250 + 5.5 * 240) / 143)
    assert a["order_value_max_all"] == 300
    assert a["cadence_days_between_orders_all"] == pytest.approx(340 / 2)
    assert a["payment_days_trend_180d"] == pytest.approx(30 - 10)  # I2 paid in the last 180 days, I1 before
    assert a["payment_late_share_365d"] == 0 and b["payment_late_share_365d"] == 1  # B took 40 days
    assert a["wallet_spend_to_revenue_365d"] == pytest.approx(590 / 1e6)
    assert a["wallet_spend_vs_industry_365d"] == pytest.approx(1.0)  # A is the only active Retail customer
    assert np.isnan(a["relationship_owner_portfolio_365d"])  # no account owners in this table
    assert a["products_distinct_365d"] == 3  # without product ids, categories stand in for products
    assert a["cadence_active_months_365d"] == 3  # 2022-07, 2023-03, 2023-06
    assert a["cadence_days_per_order_trend_180d"] == pytest.approx(180 / 2 - 180 / 1)


def test_feature_families_switch_on_and_off(known_history):
    spine = pd.DataFrame({"customer_id": ["A"], "cutoff": [CUTOFF]})
    frame = build_features(known_history, customers_frame(["A", "B"]), spine, families=("payment", "firm"))
    assert {c.split("_")[0] for c in frame.columns[2:]} == {"payment", "firm"}
    with pytest.raises(ValueError, match="unknown feature families"):
        build_features(known_history, customers_frame(["A", "B"]), spine, families=("astrology",))


def test_missing_history_is_zero_for_counts_and_nan_for_means(known_history):
    b = features_at(known_history).loc["B"]
    assert b["spend_sum_90d"] == 0 and b["orders_count_90d"] == 0
    assert np.isnan(b["order_value_mean_90d"])
    assert b["spend_growth_90d"] == -1.0  # bought only in the previous 90 days
    assert b["recency_days_since_last_order"] == 177


def test_fixed_column_order_and_dtypes(known_history):
    frame = build_features(known_history, customers_frame(["A", "B"]),
                           pd.DataFrame({"customer_id": ["B", "A"], "cutoff": CUTOFF}))
    assert list(frame.columns) == ["customer_id", "cutoff", *feature_columns((90, 180, 365))]
    assert list(frame["customer_id"]) == ["B", "A"]  # spine order is kept
    numeric = frame.drop(columns=["customer_id", "cutoff", "firm_industry", "firm_country", "firm_region",
                                  "firm_channel"])
    assert (numeric.dtypes == "float64").all()


def test_snapshot_valid_from_the_cutoff_or_later_is_not_used(known_history):
    snapshots = pd.DataFrame({
        "customer_id": ["A", "A", "A"],
        "valid_from": pd.to_datetime(["2022-01-01", "2023-01-01", "2023-07-01"]),
        "employees": [5.0, 8.0, 500.0],
        "annual_revenue": [1.0, 2.0, 3.0],
    })
    frame = features_at(known_history, snapshots=snapshots)
    assert frame.loc["A", "firm_employees"] == 8
    assert np.isnan(frame.loc["B", "firm_employees"])  # no snapshot for B: unknown, not the static value


def test_missing_column_is_named(known_history):
    with pytest.raises(ValueError, match="amount"):
        features_at(known_history.drop(columns="amount"))


def test_non_midnight_cutoff_is_refused(known_history):
    with pytest.raises(ValueError, match="midnight"):
        features_at(known_history, cutoff=pd.Timestamp("2023-07-01 12:00"))


def test_training_and_scoring_spines_give_identical_rows(known_history):
    """A multi-cutoff training spine and a one-date scoring spine produce the same features."""
    training = build_features(
        known_history, customers_frame(["A", "B"]),
        pd.DataFrame({"customer_id": ["A", "A", "B"], "cutoff": pd.to_datetime(["2023-04-01", "2023-07-01",
                                                                                  "2023-07-01"])}),
    )
    scoring = build_features(known_history, customers_frame(["A", "B"]),
                             pd.DataFrame({"customer_id": ["A"], "cutoff": [CUTOFF]}))
    pd.testing.assert_frame_equal(training.iloc[[1]].reset_index(drop=True), scoring)
