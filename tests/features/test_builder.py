import numpy as np
import pandas as pd
import pytest

from features import sql
from features.builder import build_features
from features.catalogue import feature_catalogue
from tests.conftest import customers_frame, transactions_frame

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


def test_breadth_added_leaves_out_the_opening_basket(known_history):
    a, b = features_at(known_history).loc["A"], features_at(known_history).loc["B"]
    assert a["categories_added_180d"] == 2  # Paint (113 days before), Safety (11 days); Tools opened the account
    assert a["categories_added_365d"] == 2
    assert b["categories_new_90d"] == 0 and b["categories_added_365d"] == 0  # Paint is B's opening basket
    early = features_at(known_history, cutoff=pd.Timestamp("2023-03-10"), customers=["A"]).loc["A"]
    assert early["categories_added_365d"] == 0  # Paint is bought on the cutoff day itself: not yet known
    later = features_at(known_history, cutoff=pd.Timestamp("2023-12-01"), customers=["A"]).loc["A"]
    assert later["categories_added_180d"] == 1  # Safety 164 days before; Paint 266 days
    assert later["categories_added_365d"] == 2


def test_known_answers_for_expansion_shares():
    history = transactions_frame([
        ("A", "1", "2022-01-03 10:00", "Tools", 100.0, None),  # opening basket
        ("A", "2", "2022-06-01 10:00", "Paint", 50.0, None),  # Paint added: newly added until 2023-06-01
        ("A", "3", "2022-11-01 10:00", "Paint", 150.0, None),
        ("A", "3", "2022-11-01 10:00", "Paint", -40.0, None),  # not a purchase line
        ("A", "4", "2022-12-01 10:00", "Tools", 200.0, None),
        ("A", "5", "2023-02-01 10:00", "Safety", 30.0, None),
    ])
    cutoffs = pd.to_datetime(["2022-12-15", "2023-02-01", "2023-06-01", "2023-06-02", "2023-07-30"])
    spine = pd.DataFrame({"customer_id": "A", "cutoff": cutoffs})
    shares = build_features(history, customers_frame(["A"]), spine, families=("expansion",)).set_index("cutoff")
    expected = pd.DataFrame({
        # 2022-12-15: Paint 150 and Tools 200 in both windows; 2023-02-01: Safety is on the cutoff day, not before
        "expansion_line_share_90d": [0.5, 0.0, np.nan, np.nan, np.nan],
        "expansion_spend_share_90d": [150 / 350, 0.0, np.nan, np.nan, np.nan],
        # from 2023-06-01 on, only Safety (2023-02-01) is in the last 180 days
        "expansion_line_share_180d": [0.5, 0.5, 1.0, 1.0, 1.0],
        "expansion_spend_share_180d": [150 / 350, 150 / 350, 1.0, 1.0, 1.0],
    }, index=pd.Index(cutoffs, name="cutoff"))
    pd.testing.assert_frame_equal(shares.drop(columns="customer_id"), expected, check_dtype=False)


def test_expansion_ends_a_year_after_the_category_was_added():
    history = transactions_frame([
        ("A", "1", "2022-01-03 10:00", "Tools", 100.0, None),
        ("A", "2", "2022-02-01 10:00", "Paint", 50.0, None),  # newly added until 2023-02-01
        ("A", "3", "2023-01-20 10:00", "Paint", 80.0, None),
        ("A", "4", "2023-01-25 10:00", "Tools", 20.0, None),
    ])
    spine = pd.DataFrame({"customer_id": "A", "cutoff": pd.to_datetime(["2023-02-01", "2023-02-02"])})
    shares = build_features(history, customers_frame(["A"]), spine, families=("expansion",))
    assert shares["expansion_spend_share_90d"].tolist() == [0.8, 0.0]  # the same lines, Paint no longer new


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
    assert a["wallet_spend_vs_peers_365d"] == pytest.approx(1.0)  # A is the only active Retail customer
    assert np.isnan(a["relationship_owner_portfolio_365d"])  # no account owners in this table
    assert a["products_distinct_365d"] == 3  # without product ids, categories stand in for products
    assert a["cadence_active_months_365d"] == 3  # 2022-07, 2023-03, 2023-06
    assert a["cadence_days_per_order_trend_180d"] == pytest.approx(180 / 2 - 180 / 1)


def test_spend_vs_peers_compares_with_the_same_industry_and_size_band_as_of_the_cutoff():
    # all Retail, each one invoice in the last year: C and D are small (10-49 employees), E is medium, F unknown
    history = transactions_frame([(c, f"I{c}", "2023-05-01 10:00", "Tools", amount, 10)
                                  for c, amount in (("C", 100.0), ("D", 300.0), ("E", 1000.0), ("F", 50.0))])
    customers = customers_frame(["C", "D", "E", "F"]).assign(industry="Retail", employees=[12.0, 40.0, 60.0, np.nan])
    spine = pd.DataFrame({"customer_id": ["C", "D", "E", "F"], "cutoff": CUTOFF})
    peers = build_features(history, customers, spine, families=("wallet",)).set_index("customer_id")
    ratio = peers["wallet_spend_vs_peers_365d"]
    assert ratio["C"] == pytest.approx(100 / 200) and ratio["D"] == pytest.approx(300 / 200)  # median of C, D
    assert ratio["E"] == pytest.approx(1.0) and ratio["F"] == pytest.approx(1.0)  # alone in their band

    # sizes from snapshots: E had 30 employees until a snapshot valid from the cutoff itself (not yet known)
    snapshots = pd.DataFrame({"customer_id": ["C", "D", "E", "E"],
                              "valid_from": pd.to_datetime(["2023-01-01", "2023-01-01", "2022-01-01", "2023-07-01"]),
                              "employees": [12.0, 40.0, 30.0, 60.0], "annual_revenue": 1e6})
    as_of = build_features(history, customers, spine, snapshots=snapshots, families=("wallet",))
    ratio = as_of.set_index("customer_id")["wallet_spend_vs_peers_365d"]
    assert ratio["E"] == pytest.approx(1000 / 300)  # a small firm at the cutoff: median of 100, 300, 1000
    assert ratio["C"] == pytest.approx(100 / 300)
    assert ratio["F"] == pytest.approx(1.0)  # no snapshot: unknown size


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
    assert list(frame.columns) == ["customer_id", "cutoff", *(f.name for f in feature_catalogue((90, 180, 365)))]
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


def test_known_answers_for_largest_order_per_window(known_history):
    frame = features_at(known_history)
    a, b = frame.loc["A"], frame.loc["B"]
    assert a["order_value_max_90d"] == 300 and a["order_value_max_365d"] == 300
    assert np.isnan(b["order_value_max_90d"])  # B's only order lies 177 days back
    assert b["order_value_max_180d"] == 80 and b["order_value_max_all"] == 80
    # I3 (300) is dated on this cutoff day, so invisible: I2 (250) lies 102 days back
    earlier = features_at(known_history, cutoff=pd.Timestamp("2023-06-20")).loc["A"]
    assert np.isnan(earlier["order_value_max_90d"])
    assert earlier["order_value_max_180d"] == 250 and earlier["order_value_max_all"] == 250


def test_known_answers_for_top_category_share(known_history):
    frame = features_at(known_history)
    # A's purchase lines in the year: Tools 100 + 200, Paint 50, Safety 300 (the credit note is no purchase)
    assert frame.loc["A", "categories_top_share_365d"] == pytest.approx(300 / 650)
    assert frame.loc["B", "categories_top_share_365d"] == 1.0
    later = features_at(known_history, cutoff=pd.Timestamp("2024-03-01"))  # I2 .. I4: Tools 200 + 999 on top
    assert later.loc["A", "categories_top_share_365d"] == pytest.approx((200 + 999) / (200 + 50 + 300 + 999))
    assert np.isnan(later.loc["B", "categories_top_share_365d"])  # no purchase in that year


def test_known_answers_for_gaps_between_orders():
    history = transactions_frame([
        ("A", "P1", "2021-08-01 10:00", "Tools", 10.0, 5),  # previous year: 2021-08-01 .. 2022-02-01
        ("A", "P2", "2021-10-01 10:00", "Tools", 10.0, 5),
        ("A", "P3", "2022-02-01 10:00", "Tools", 10.0, 5),
        ("A", "L1", "2022-08-01 10:00", "Tools", 10.0, 5),  # last year: 2022-08-01 .. 2022-11-01
        ("A", "L2", "2022-09-01 10:00", "Tools", 10.0, 5),
        ("A", "CN", "2022-09-15 10:00", "Tools", -5.0, None),  # a credit note is no order
        ("A", "L3", "2022-10-01 10:00", "Tools", 10.0, 5),
        ("A", "L4", "2022-11-01 10:00", "Tools", 10.0, 5),
        ("B", "B1", "2023-01-05 10:00", "Paint", 10.0, 5),
    ])
    frame = features_at(history)
    a, b = frame.loc["A"], frame.loc["B"]
    assert a["cadence_gap_mean_365d"] == pytest.approx(92 / 3)
    assert a["cadence_gap_trend_365d"] == pytest.approx(92 / 3 - 184 / 2)
    assert a["cadence_days_between_orders_all"] == pytest.approx(457 / 6)
    assert np.isnan(b["cadence_gap_mean_365d"]) and np.isnan(b["cadence_gap_trend_365d"])  # one order only


def test_switched_off_families_are_not_computed(known_history, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("computed a family that is switched off")

    spine = pd.DataFrame({"customer_id": ["A", "B"], "cutoff": [CUTOFF, CUTOFF]})
    monkeypatch.setattr(sql, "rollup", refuse)
    frame = build_features(known_history, customers_frame(["A", "B"]), spine, families=("firm",))
    assert frame.loc[0, "firm_industry"] == "Retail"
    monkeypatch.undo()
    monkeypatch.setattr(sql, "_category_segments", refuse)
    monkeypatch.setattr(sql, "distinct_events", refuse)
    monkeypatch.setattr(sql, "expansion_events", refuse)
    monkeypatch.setattr(sql, "firm_attributes", refuse)
    frame = build_features(known_history, customers_frame(["A", "B"]), spine, families=("spend", "payment"))
    assert {c.split("_")[0] for c in frame.columns[2:]} == {"spend", "payment"}


def test_distinct_counts_by_events_equal_those_by_bit_masks(known_history, monkeypatch):
    """More categories or products than bits in a mask are counted with +1/-1 events: same answers."""
    history = pd.concat([known_history, known_history.assign(
        customer_id="B", product_id=lambda f: f["category"] + "-x",
        timestamp=known_history["timestamp"] - pd.Timedelta(days=200))], ignore_index=True)
    history["product_id"] = history["product_id"].fillna(history["category"] + "-y")
    spine = pd.DataFrame({"customer_id": ["A", "B", "A", "B"],
                          "cutoff": pd.to_datetime(["2023-01-01", "2023-01-01", "2023-07-01", "2024-01-01"])})
    by_masks = build_features(history, customers_frame(["A", "B"]), spine)
    monkeypatch.setattr(sql, "MASK_BITS", 1)
    by_events = build_features(history, customers_frame(["A", "B"]), spine)
    pd.testing.assert_frame_equal(by_masks, by_events)
    assert by_masks["products_distinct_all"].tolist() == [1, 3, 3, 4]  # B: Tools-x, Paint-x, Safety-x, Paint-y


def test_rolling_up_chunk_by_chunk_and_customers_by_bucket_changes_nothing(known_history, monkeypatch):
    spine = pd.DataFrame({"customer_id": ["A", "B", "A", "B"],
                          "cutoff": pd.to_datetime(["2023-01-01", "2023-01-01", "2023-07-01", "2024-01-01"])})
    whole = build_features(known_history, customers_frame(["A", "B"]), spine)
    assert whole["expansion_spend_share_180d"].gt(0).any()  # customer A added Paint and Safety
    monkeypatch.setattr(sql, "LINES_PER_CHUNK", 2)  # a chunk every ~90 days, the customers in 4 buckets
    pd.testing.assert_frame_equal(build_features(known_history, customers_frame(["A", "B"]), spine), whole)


def test_transactions_read_from_parquet_give_the_same_features(known_history, tmp_path):
    path = tmp_path / "transactions.parquet"
    known_history.to_parquet(path, index=False)
    spine = pd.DataFrame({"customer_id": ["A", "B"], "cutoff": [CUTOFF, CUTOFF]})
    pd.testing.assert_frame_equal(build_features(path, customers_frame(["A", "B"]), spine),
                                  build_features(known_history, customers_frame(["A", "B"]), spine))
