import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from models.scoring import assign_tiers, holdout_draw, score_1_99


def _ranked(n: int, owners: list | None = None) -> pd.DataFrame:
    return pd.DataFrame({"rank": np.arange(1, n + 1), "customer_id": [f"C{i:04d}" for i in range(n)],
                         "account_owner": owners if owners is not None else ["ann"] * n})


def test_the_score_is_99_for_the_top_percent_and_1_for_the_bottom():
    score = score_1_99(pd.Series(np.linspace(1.0, 0.0, 1000)))
    assert score.iloc[:11].eq(99).all() and score.iloc[11] == 98
    assert score.iloc[-1] == 1 and score.between(1, 99).all()
    assert score.is_monotonic_decreasing


def test_equal_raw_scores_get_equal_scores_and_an_empty_list_none():
    score = score_1_99(pd.Series([3.0, 2.0, 2.0, 1.0]))
    assert score.tolist() == [99, 75, 75, 25]
    assert score_1_99(pd.Series([], dtype="float64")).empty


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=300))
def test_the_score_never_rises_as_the_raw_score_falls(raw):
    series = pd.Series(raw)
    score = score_1_99(series)
    ordered = score.iloc[np.argsort(-series.to_numpy(), kind="stable")]
    assert ordered.is_monotonic_decreasing and score.between(1, 99).all()


def test_tiers_follow_capacity_then_the_shares_of_the_list():
    tiers = assign_tiers(_ranked(100), capacity=5, capacity_per_owner=None, tier_b_share=0.1, tier_c_share=0.3)
    assert tiers.value_counts().to_dict() == {"A": 5, "B": 5, "C": 20, "D": 70}
    assert tiers.iloc[:5].eq("A").all() and tiers.iloc[5] == "B" and tiers.iloc[-1] == "D"


def test_a_capacity_larger_than_the_shares_makes_a_wins():
    tiers = assign_tiers(_ranked(10), capacity=8, capacity_per_owner=None, tier_b_share=0.1, tier_c_share=0.3)
    assert tiers.tolist() == ["A"] * 8 + ["D"] * 2


def test_capacity_per_owner_gives_each_owner_and_the_unowned_their_top_n():
    owners = ["ann", "bob", "ann", None, "ann", "bob", None, "bob"]
    tiers = assign_tiers(_ranked(8, owners), capacity=100, capacity_per_owner=2, tier_b_share=0.5,
                         tier_c_share=0.75)
    assert tiers.tolist() == ["A", "A", "A", "A", "C", "A", "A", "D"]


def test_the_holdout_is_a_seeded_share_of_tier_a_whatever_the_row_order():
    ranked = _ranked(200)
    tier = assign_tiers(ranked, capacity=100, capacity_per_owner=None, tier_b_share=0.6, tier_c_share=0.8)
    held = holdout_draw(tier, ranked["customer_id"], 0.2, seed=7)
    assert held.sum() == 20 and not held[tier != "A"].any()
    shuffled = ranked.sample(frac=1, random_state=3)
    again = holdout_draw(tier.loc[shuffled.index], shuffled["customer_id"], 0.2, seed=7)
    assert set(ranked.loc[held, "customer_id"]) == set(shuffled.loc[again, "customer_id"])
    assert not holdout_draw(tier, ranked["customer_id"], 0.2, seed=8).equals(held)
    assert not holdout_draw(tier, ranked["customer_id"], 0.0, seed=7).any()
