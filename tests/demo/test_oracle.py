"""Tests of the demo's oracle: expected spend against the simulated history, and what it knows at a cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demo.oracle import expected_spend, expected_spend_known_at, noise_free_history
from demo.simulator import DemoTables
from tests.demo.conftest import LONG, MEDIUM, realised_spend


@pytest.mark.parametrize(("months", "tolerance"), [(24, 0.03), (12, 0.05), (3, 0.08)])
def test_expected_spend_matches_realised_total(medium: DemoTables, months: int, tolerance: float) -> None:
    end = MEDIUM.end
    start = end - pd.DateOffset(months=months)
    expected = expected_spend(medium.ground_truth, start, end)
    realised = realised_spend(medium.transactions, start, end)
    assert expected.index.equals(pd.Index(medium.customers["customer_id"], name="customer_id"))
    assert expected.sum() == pytest.approx(realised.sum(), rel=tolerance)


def test_expected_spend_ranks_customers(medium: DemoTables) -> None:
    end = MEDIUM.end
    start = end - pd.DateOffset(months=12)
    expected = expected_spend(medium.ground_truth, start, end)
    realised = realised_spend(medium.transactions, start, end).reindex(expected.index, fill_value=0.0)
    assert expected.rank().corr(realised.rank()) > 0.7  # Spearman


def test_expected_spend_is_additive_and_zero_outside_activity(medium: DemoTables) -> None:
    before = expected_spend(medium.ground_truth, MEDIUM.start - pd.DateOffset(years=1), MEDIUM.start)
    assert (before == 0).all()
    after = expected_spend(medium.ground_truth, MEDIUM.end, MEDIUM.end + pd.DateOffset(years=1))
    assert (after == 0).all()
    gt = medium.ground_truth
    split = MEDIUM.start + pd.DateOffset(months=13, days=10)  # not on a month boundary
    early = expected_spend(gt, MEDIUM.start, split)
    late = expected_spend(gt, split, MEDIUM.end)
    np.testing.assert_allclose(early + late, expected_spend(gt, MEDIUM.start, MEDIUM.end), rtol=1e-9)
    arrive_late = (gt["active_from"] >= split).to_numpy()
    assert arrive_late.any() and (early[arrive_late] == 0).all()


def _first_signs(gt: pd.DataFrame) -> pd.Series:
    """Day of a customer's first sign of adoption: the pilot's start (growers) or the onset."""
    return gt["adoption_onset"] - pd.to_timedelta(gt["pilot_days"], unit="D")


def test_knowable_oracle_ignores_adoptions_and_churns_that_have_not_shown(long: DemoTables) -> None:
    gt = long.ground_truth
    cutoff = LONG.start + pd.DateOffset(years=3)
    end = cutoff + pd.DateOffset(months=12)
    known = expected_spend_known_at(gt, cutoff, end, LONG, seed=3)
    future = gt.copy()
    unseen_onset = _first_signs(gt) >= cutoff
    future.loc[unseen_onset, "adoption_onset"] += pd.Timedelta(days=200)  # another future
    unseen_churn = gt["decline_from"].notna() & (gt["decline_from"] >= cutoff)
    assert unseen_onset.sum() > 50 and unseen_churn.sum() > 20
    future.loc[unseen_churn, ["decline_from", "churn_date"]] = pd.NaT  # these no longer churn
    future.loc[unseen_churn, "active_until"] = pd.Timestamp(LONG.end)
    assert not expected_spend(future, cutoff, end).equals(expected_spend(gt, cutoff, end))
    pd.testing.assert_series_equal(expected_spend_known_at(future, cutoff, end, LONG, seed=3), known)


def test_knowable_oracle_uses_what_has_shown(long: DemoTables) -> None:
    gt = long.ground_truth.assign(churn_probability=0.0)
    cutoff = LONG.start + pd.DateOffset(years=3)
    end = cutoff + pd.DateOffset(months=12)
    known = expected_spend_known_at(gt, cutoff, end, LONG, seed=3)
    # adoption under way and no churn ahead: nothing left to draw, the full-foresight expectation
    settled = ((_first_signs(gt) < cutoff) & gt["decline_from"].isna()).to_numpy()
    piloting = settled & gt["grower"].to_numpy() & (gt["adoption_onset"] > cutoff).to_numpy()
    assert piloting.sum() > 10
    np.testing.assert_allclose(known[settled], expected_spend(gt, cutoff, end)[settled], rtol=1e-12)
    # a grower whose pilot has not started may still ramp inside the window: more than its no-growth path
    unseen_growers = (gt["grower"] & (_first_signs(gt) >= cutoff)).to_numpy()
    no_growth = gt.assign(adoption_onset=pd.Timestamp(LONG.end) + pd.DateOffset(years=5))
    assert (known[unseen_growers] > expected_spend(no_growth, cutoff, end)[unseen_growers] * 1.001).mean() > 0.5


def test_noise_free_history_knows_nothing_of_the_future(long: DemoTables) -> None:
    gt = long.ground_truth
    cutoff = LONG.start + pd.DateOffset(years=3)
    history = noise_free_history(gt, cutoff)
    pd.testing.assert_series_equal(history["noise_free_spend_90d"],
                                   expected_spend(gt, cutoff - pd.Timedelta(days=90), cutoff), check_names=False)
    shown = (_first_signs(gt) < cutoff).to_numpy()
    assert (history.loc[~shown, ["noise_free_pilot", "noise_free_progress"]] == 0).all().all()
    assert ((history.loc[shown, "noise_free_pilot"] > 0) | (history.loc[shown, "noise_free_progress"] > 0)).all()
    future = gt.copy()
    future.loc[~shown, "adoption_onset"] += pd.Timedelta(days=200)  # another future
    unseen_churn = gt["decline_from"].notna() & (gt["decline_from"] >= cutoff)
    assert (~shown).sum() > 50 and unseen_churn.sum() > 20
    future.loc[unseen_churn, ["decline_from", "churn_date"]] = pd.NaT
    future.loc[unseen_churn, "active_until"] = pd.Timestamp(LONG.end)
    pd.testing.assert_frame_equal(noise_free_history(future, cutoff), history)
