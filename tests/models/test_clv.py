"""BG/NBD + Gamma-Gamma expected spend on small generated histories (each fit takes a few seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary

from models.clv import bgnbd_expected_spend, purchase_summary
from tests.conftest import transactions_frame

pytestmark = pytest.mark.xdist_group("clv")  # one worker: the fixture's fit and PyTensor's compiled graphs are shared

CUTOFF = pd.Timestamp("2024-01-01")
HORIZON = 90


def generated_lines(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """Customers who buy at Gamma-distributed rates with Gamma-distributed order values, some dropping out,
    over the year before CUTOFF and the quarter after it; one line per purchase."""
    rng = np.random.default_rng(seed)
    start, rows = CUTOFF - pd.Timedelta(days=365), []
    for i in range(n):
        rate, value = rng.gamma(1.5, 1 / 40), rng.gamma(5.0, 40.0)
        day, last_day = rng.uniform(0, 300), rng.uniform(0, 700)
        while day < min(last_day, 455):
            rows.append((f"G{i:03d}", start + pd.Timedelta(days=day), rng.gamma(5.0, value / 5)))
            day += rng.exponential(1 / rate) + 1
    lines = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    return lines.astype({"customer_id": "str", "timestamp": "datetime64[us]"})


def every_n_days(customer_id: str, every_days: int, amount: float) -> list[tuple]:
    """Purchases every `every_days` days from 2023-01-02 up to Christmas 2023."""
    days = pd.date_range("2023-01-02", "2023-12-24", freq=f"{every_days}D")
    return [(customer_id, day, amount) for day in days]


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    """Generated customers plus four made by hand (frequent/rare × large/small), a customer whose only purchase
    day nets to zero, a large row at the cutoff and a customer who first buys after it."""
    made = [
        *every_n_days("FREQUENT_LARGE", 7, 500.0),
        *every_n_days("FREQUENT_SMALL", 7, 50.0),
        *every_n_days("RARE_LARGE", 56, 500.0),
        *every_n_days("RARE_SMALL", 56, 50.0),
        ("CREDITED", pd.Timestamp("2023-05-01 09:00"), 120.0),
        ("CREDITED", pd.Timestamp("2023-05-01 15:00"), -120.0),
        ("FREQUENT_SMALL", CUTOFF, 10_000.0),
        ("LATE", CUTOFF + pd.Timedelta(days=3), 800.0),
    ]
    extra = pd.DataFrame(made, columns=["customer_id", "timestamp", "amount"])
    return pd.concat([generated_lines(), extra.astype({"customer_id": "str", "timestamp": "datetime64[us]"})],
                     ignore_index=True)


@pytest.fixture(scope="module")
def spine(lines: pd.DataFrame) -> pd.Index:
    """Every customer in the lines, plus one who never bought."""
    return pd.Index([*sorted(lines["customer_id"].unique()), "NEW"], name="customer_id")


@pytest.fixture(scope="module")
def spend(lines: pd.DataFrame, spine: pd.Index) -> pd.Series:
    return bgnbd_expected_spend(lines, CUTOFF, HORIZON, customer_ids=spine)


def test_summary_nets_days_and_counts_positive_days_before_the_cutoff(known_history: pd.DataFrame) -> None:
    summary = purchase_summary(known_history, pd.Timestamp("2023-07-01")).set_index("customer_id")
    # A buys on 2022-07-15, 2023-03-10 (two lines) and 2023-06-20; the credit-note day and the cutoff row do not count
    assert summary.loc["A"].to_dict() == {"frequency": 2.0, "recency": 340.0, "T": 351.0, "monetary_value": 275.0}
    assert summary.loc["B"].to_dict() == {"frequency": 0.0, "recency": 0.0, "T": 177.0, "monetary_value": 0.0}


def test_uses_only_rows_before_the_cutoff(lines: pd.DataFrame, spine: pd.Index, spend: pd.Series) -> None:
    before = bgnbd_expected_spend(lines.loc[lines["timestamp"] < CUTOFF], CUTOFF, HORIZON, customer_ids=spine)
    pd.testing.assert_series_equal(spend, before, check_exact=True)
    assert spend.name == "bgnbd_expected_spend"


def test_customers_without_a_purchase_before_the_cutoff_get_zero(spine: pd.Index, spend: pd.Series) -> None:
    assert spend.index.equals(spine)
    no_purchase = ["NEW", "LATE", "CREDITED"]  # never bought, first bought after the cutoff, bought and credited
    assert spend[no_purchase].eq(0.0).all()
    assert (spend.drop(no_purchase) > 0).all()


def test_more_frequent_and_larger_purchases_rank_higher(spend: pd.Series) -> None:
    assert spend["FREQUENT_LARGE"] > spend["FREQUENT_SMALL"] > spend["RARE_SMALL"]
    assert spend["FREQUENT_LARGE"] > spend["RARE_LARGE"] > spend["RARE_SMALL"]


def test_longer_horizon_expects_more_but_less_than_proportionally(lines: pd.DataFrame, spend: pd.Series) -> None:
    year = bgnbd_expected_spend(lines, CUTOFF, 4 * HORIZON)  # no customer_ids: the customers who bought, sorted
    quarter = spend.loc[spend > 0]
    assert year.index.equals(quarter.index)
    assert (year > quarter).all()
    assert (year <= 4 * quarter).all()  # purchases slow down as customers drop out


def test_matches_the_library_called_directly(lines: pd.DataFrame, spend: pd.Series) -> None:
    # before the cutoff every purchase day is one positive line except CREDITED's, so the library's own summary
    # of the other lines is ours
    history = lines.loc[(lines["timestamp"] < CUTOFF) & (lines["customer_id"] != "CREDITED")]
    summary = rfm_summary(history, "customer_id", "timestamp", "amount", observation_period_end=CUTOFF)
    purchases = BetaGeoModel()
    purchases.fit(data=summary, method="map", progressbar=False)
    value = GammaGammaModel()
    value.fit(data=summary.loc[summary["frequency"] > 0], method="map", progressbar=False)
    # zero discount: CLV over 3 months of 30 days = expected purchases in 90 days x expected purchase value
    clv = value.expected_customer_lifetime_value(purchases, summary.copy(), future_t=3, discount_rate=0.0)
    expected = clv.squeeze(("chain", "draw")).to_series().sort_index()
    pd.testing.assert_series_equal(spend.loc[spend > 0], expected, check_names=False, check_index_type=False,
                                   rtol=1e-9)


def test_no_repeat_customer_is_an_error() -> None:
    one_time = transactions_frame([("A", "I1", "2023-01-05", "Tools", 100.0, 10),
                                   ("B", "I2", "2023-02-05", "Tools", 80.0, 10)])
    with pytest.raises(ValueError, match="no customer with a repeat purchase"):
        bgnbd_expected_spend(one_time, CUTOFF, HORIZON)


def test_purchase_values_without_a_finite_mean_are_an_error() -> None:
    # mean purchase values spread over eight orders of magnitude: the fitted Gamma-Gamma has no finite mean (q <= 1)
    lines = pd.DataFrame(
        [(f"C{i:02d}", pd.Timestamp("2023-01-01") + pd.Timedelta(days=i + day), 10 ** (i / 5) * factor)
         for i in range(40) for day, factor in [(0, 0.9), (30, 1.0), (60, 1.1), (90, 1.0)][:3 + i % 2]],
        columns=["customer_id", "timestamp", "amount"])
    with pytest.raises(ValueError, match="q <= 1"):
        bgnbd_expected_spend(lines, CUTOFF, HORIZON)
