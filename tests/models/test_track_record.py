import numpy as np
import pandas as pd
import pytest

from models.track_record import (
    SPEND_SCORE,
    Bootstrap,
    ListResult,
    Reach,
    evaluate_list,
    pooled_uplift,
    uplift,
)

BOOTSTRAP = Bootstrap(resamples=500, confidence=0.95, seed=7)


def _members(rows: list[tuple]) -> pd.DataFrame:
    """Members from (customer_id, rank, tier, holdout) tuples."""
    frame = pd.DataFrame(rows, columns=["customer_id", "rank", "tier", "holdout"])
    return frame.assign(probability=0.5)


def _population(outcomes: dict[str, bool], spend: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(outcomes), "became_key_account": list(outcomes.values()),
                         SPEND_SCORE: [spend[c] for c in outcomes]})


def _small_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tier A holds M1-M3, two of which (M1, M2) became key accounts; the three biggest spenders are S1, S2 and
    M1, of which only M1 did, then M3 and the Q's (ties broken by id); ranks 4-5 are B; 20 eligible customers."""
    members = _members([("M1", 1, "A", False), ("M2", 2, "A", False), ("M3", 3, "A", False),
                        ("S1", 4, "B", False), ("X1", 5, "B", False)])
    ids = ["M1", "M2", "M3", "S1", "S2", "X1", *[f"Q{i}" for i in range(14)]]
    outcomes = dict.fromkeys(ids, False) | {"M1": True, "M2": True, "Q0": True}
    spend = dict.fromkeys(ids, 10.0) | {"S1": 900.0, "S2": 800.0, "M1": 700.0, "M2": 1.0, "Q0": 5.0}
    return members, _population(outcomes, spend)


def test_tier_a_and_top_k_count_the_key_accounts_of_the_list_and_of_the_spend_rank_list_of_its_size():
    members, population = _small_case()
    result = evaluate_list("2023-01-01", "3", members, population, ks=(2, 5, 50), horizon_months=12,
                           bootstrap=BOOTSTRAP)
    a = result.tier_a
    assert (a.size, a.model, a.spend_rank, a.difference) == (3, 2, 1, 1)
    assert a.model_precision == pytest.approx(2 / 3) and a.spend_rank_precision == pytest.approx(1 / 3)
    assert a.difference_interval is None  # three accounts: too few for an interval
    # top 2: M1, M2 against S1, S2; top 5: M1..X1 against S1, S2, M1, M3, Q1
    assert [(r.group, r.size, r.model, r.spend_rank) for r in result.top_k] == [("top 2", 2, 2, 0),
                                                                                ("top 5", 5, 2, 1)]
    assert (result.eligible, result.key_accounts, result.left_out, result.uplift) == (20, 3, 0, None)
    assert result.headline() == ("Of the 3 accounts in tier A on 2023-01-01, 2 became key accounts within 12 months; "
                                 "ranking by 12-month spend found 1 (difference +1; too few accounts for an "
                                 "interval).")
    assert result.lines()[1] == ("In its top 2, 2 became key accounts; ranking by 12-month spend found 0 "
                                 "(difference +2; too few accounts for an interval).")


def test_members_no_longer_eligible_are_left_out_and_said_so():
    members, population = _small_case()
    result = evaluate_list("2023-01-01", "3", members, population[population["customer_id"] != "M2"], ks=(5,),
                           horizon_months=12, bootstrap=BOOTSTRAP)
    assert (result.left_out, result.tier_a.size, result.tier_a.model, result.tier_a.spend_rank) == (1, 2, 1, 0)
    assert "1 of the list's accounts is not eligible on 2023-01-01 in today's data" in " ".join(result.lines())


def _large_case(n: int = 400, tier_a: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """n eligible customers ranked C0000, C0001, ...; the first tier_a are tier A; every third of the top half became
    a key account; spend ranks the customers in reverse order of the list for its first half."""
    ids = [f"C{i:04d}" for i in range(n)]
    members = _members([(c, i + 1, "A" if i < tier_a else "B", False) for i, c in enumerate(ids[:100])])
    outcomes = {c: i < n // 2 and i % 3 == 0 for i, c in enumerate(ids)}
    spend = {c: float(i if i < n // 2 else -i) for i, c in enumerate(ids)}
    return members, _population(outcomes, spend)


def test_intervals_contain_the_counts_and_are_paired():
    members, population = _large_case()
    result = evaluate_list("2023-01-01", "3", members, population, ks=(50, 100), horizon_months=12,
                           bootstrap=BOOTSTRAP)
    for reach in [result.tier_a, *result.top_k]:
        for count, interval in [(reach.model, reach.model_interval), (reach.spend_rank, reach.spend_rank_interval),
                                (reach.difference, reach.difference_interval)]:
            assert interval[0] <= count <= interval[1]
        assert reach.difference_interval[1] > reach.difference_interval[0]
    # a spend ranking that is the list itself: every replicate's difference is 0 when the counts are paired
    same = population.assign(**{SPEND_SCORE: -np.arange(len(population), dtype="float64")})
    tied = evaluate_list("2023-01-01", "3", members, same, ks=(50,), horizon_months=12, bootstrap=BOOTSTRAP)
    assert tied.tier_a.difference_interval == (0.0, 0.0)
    assert tied.tier_a.model_interval[1] > tied.tier_a.model_interval[0]


def test_bootstrap_is_seeded_and_resamples_every_eligible_customer():
    members, population = _large_case()

    def interval(seed: int, pop: pd.DataFrame, resamples: int = 2000) -> tuple:
        bootstrap = Bootstrap(resamples=resamples, confidence=0.95, seed=seed)
        return evaluate_list("2023-01-01", "3", members, pop, (50,), 12, bootstrap).tier_a.model_interval

    assert interval(1, population, 50) == interval(1, population, 50)
    assert interval(1, population, 50) != interval(2, population, 50)
    # more eligible customers outside the list leave the count's spread as it is (binomial, not fixed by list size)
    larger = pd.concat([population, _population({f"Z{i}": False for i in range(4000)},
                                                {f"Z{i}": -1e9 for i in range(4000)})], ignore_index=True)
    low, high = interval(1, larger)
    assert 11 <= high - low <= 18  # 14 key accounts in tier A: about ±1.96·√14 ≈ ±7 either way, whatever n


def test_top_k_beyond_the_recorded_ranks_is_not_evaluated():
    members, population = _small_case()
    result = evaluate_list("2023-01-01", "3", members, population, ks=(6,), horizon_months=12, bootstrap=BOOTSTRAP)
    assert result.top_k == ()


def test_holdout_uplift_has_the_exact_difference_and_an_interval_around_it():
    treated = [(f"T{i}", i + 1, "A", False) for i in range(10)]
    control = [(f"H{i}", i + 11, "A", True) for i in range(10)]
    members = _members(treated + control)
    outcomes = {c[0]: int(c[0][1:]) < 6 for c in treated} | {c[0]: c[0] == "H0" for c in control}
    population = _population(outcomes, dict.fromkeys(outcomes, 1.0))
    result = evaluate_list("2023-01-01", "3", members, population, ks=(20,), horizon_months=12, bootstrap=BOOTSTRAP)
    u = result.uplift
    assert (u.treated, u.treated_key_accounts, u.control, u.control_key_accounts) == (10, 6, 10, 1)
    assert u.difference == pytest.approx(0.5)
    assert u.interval[0] < 0.5 < u.interval[1]
    assert u.line().startswith("Holdout on 2023-01-01: of the 10 tier-A accounts handed to sales, 6 became key "
                               "accounts (60%); of the 10 withheld, 1 (10%): difference +50 points, 95% interval ")
    assert u.line() in result.lines()


def test_uplift_with_too_few_withheld_says_so():
    small = uplift("on 2023-01-01", 90, 30, 5, 1, BOOTSTRAP)
    assert small.interval is None and small.difference == pytest.approx(1 / 3 - 1 / 5)
    assert small.line().endswith("difference +13 points; too few accounts for an interval (fewer than 10 handed to "
                                 "sales or withheld).")
    assert small.to_dict()["interval"] is None


def test_pooled_uplift_sums_the_lists_groups():
    first = uplift("on 2023-01-01", 90, 30, 5, 1, BOOTSTRAP)
    second = uplift("on 2023-02-01", 90, 40, 7, 2, BOOTSTRAP)
    pooled = pooled_uplift([first, second], BOOTSTRAP)
    assert (pooled.treated, pooled.treated_key_accounts, pooled.control, pooled.control_key_accounts) == (
        180, 70, 12, 3)
    assert pooled.interval is not None and pooled.interval[0] < pooled.difference < pooled.interval[1]
    assert pooled.scope == "over the 2 lists with a holdout"
    assert pooled_uplift([], BOOTSTRAP) is None


def test_headline_reads_as_plain_words():
    reach = Reach("tier A", 100, 41, 28, (33.0, 49.0), (20.0, 36.0), (5.0, 21.0))
    result = ListResult("2023-01-01", "3", 12, 0.95, 5000, 300, 0, reach, (), None)
    assert result.headline() == ("Of the 100 accounts in tier A on 2023-01-01, 41 became key accounts within 12 "
                                 "months; ranking by 12-month spend found 28 (difference +13, 95% interval +5 to +21).")
    record = result.to_dict()
    assert record["headline"] == result.headline() and record["tier_a"]["difference"] == 13
    assert record["tier_a"]["difference_interval"] == [5.0, 21.0]
