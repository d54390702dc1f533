"""Tests of the project world's oracle: expected spend against the simulated history, what it knows at a
cutoff, and that it ranks far better than spend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from demo import oracle, project_oracle
from demo.common import DemoTables
from features.labels import KeyAccountRule, build_labels
from tests.demo.conftest import PROJECT_MEDIUM, realised_spend

CUTOFF = PROJECT_MEDIUM.start + pd.DateOffset(years=2)
END = CUTOFF + pd.DateOffset(months=12)


@pytest.mark.parametrize(("months", "tolerance"), [(36, 0.04), (12, 0.06), (3, 0.1)])
def test_expected_spend_matches_realised_total(project_medium: DemoTables, months: int, tolerance: float) -> None:
    end = PROJECT_MEDIUM.end
    start = end - pd.DateOffset(months=months)
    expected = project_oracle.expected_spend(project_medium.ground_truth, start, end)
    realised = realised_spend(project_medium.transactions, start, end)
    assert expected.index.equals(pd.Index(project_medium.customers["customer_id"], name="customer_id"))
    assert expected.sum() == pytest.approx(realised.sum(), rel=tolerance)


def test_expected_spend_ranks_customers(project_medium: DemoTables) -> None:
    expected = project_oracle.expected_spend(project_medium.ground_truth, CUTOFF, END)
    realised = realised_spend(project_medium.transactions, CUTOFF, END).reindex(expected.index, fill_value=0.0)
    assert expected.rank().corr(realised.rank()) > 0.7  # Spearman


def test_expected_spend_is_additive_and_zero_outside_the_period(project_medium: DemoTables) -> None:
    gt, start, end = project_medium.ground_truth, PROJECT_MEDIUM.start, PROJECT_MEDIUM.end
    assert (project_oracle.expected_spend(gt, start - pd.DateOffset(years=1), start) == 0).all()
    assert (project_oracle.expected_spend(gt, end, end + pd.DateOffset(years=1)) == 0).all()
    split = start + pd.DateOffset(months=13, days=10)
    np.testing.assert_allclose(project_oracle.expected_spend(gt, start, split)
                               + project_oracle.expected_spend(gt, split, end),
                               project_oracle.expected_spend(gt, start, end), rtol=1e-9)


def _known(gt: pd.DataFrame, seed: int = 3) -> pd.Series:
    return project_oracle.expected_spend_known_at(gt, CUTOFF, END, seed=seed)


def test_knowable_oracle_ignores_what_has_not_shown(project_medium: DemoTables) -> None:
    """Tenders that open after the cutoff and the outcomes of bids still open at it are another future: the
    knowable oracle does not change, the full-foresight one does."""
    gt = project_medium.ground_truth
    future = gt.copy()
    later = gt["tender_arrival"] >= CUTOFF
    still_open = (gt["tender_arrival"] < CUTOFF) & (gt["decision_date"] >= CUTOFF)
    assert later.sum() > 100 and still_open.sum() > 50
    future.loc[later, "tender_arrival"] += pd.Timedelta(days=30)
    future.loc[later, ["decision_date", "project_start"]] += pd.Timedelta(days=60)
    future.loc[later, "project_size"] *= 3
    future.loc[later | still_open, "won"] = ~gt.loc[later | still_open, "won"]
    assert not project_oracle.expected_spend(future, CUTOFF, END).equals(project_oracle.expected_spend(gt, CUTOFF,
                                                                                                       END))
    pd.testing.assert_series_equal(_known(future), _known(gt))


def test_knowable_oracle_uses_what_has_shown(project_medium: DemoTables) -> None:
    """With no tenders to come and every bid certain to be won, nothing is left to draw: the knowable oracle is
    the full-foresight expectation wherever the ground truth agrees, and it counts an open bid whatever its
    recorded outcome."""
    gt = project_medium.ground_truth.assign(tender_rate=0.0, momentum=0.0, win_probability=1.0)
    later = gt.groupby("customer_id")["tender_arrival"].max() >= CUTOFF
    still_open = (gt["tender_arrival"] < CUTOFF) & (gt["decision_date"] >= CUTOFF)
    gt.loc[still_open, "won"] = True
    settled = ~later.reindex(gt["customer_id"].unique()).to_numpy()
    known = _known(gt)
    np.testing.assert_allclose(known[settled], project_oracle.expected_spend(gt, CUTOFF, END)[settled], rtol=1e-12)
    lost = gt.copy()
    lost.loc[still_open, "won"] = False
    pd.testing.assert_series_equal(_known(lost), known)
    with_open_bid = known.index.isin(gt.loc[still_open, "customer_id"]) & settled
    assert with_open_bid.sum() > 20
    assert (project_oracle.expected_spend(lost, CUTOFF, END)[with_open_bid] < known[with_open_bid]).all()


def test_knowable_oracle_expects_what_the_world_then_spends(project_medium: DemoTables) -> None:
    """Its simulation of the tenders to come matches the generator's: in total, and for the momentum firms."""
    gt = project_medium.ground_truth
    known = _known(gt)
    realised = realised_spend(project_medium.transactions, CUTOFF, END).reindex(known.index, fill_value=0.0)
    assert known.sum() == pytest.approx(realised.sum(), rel=0.08)
    momentum = gt.drop_duplicates("customer_id").set_index("customer_id")["momentum_firm"]
    assert known[momentum].sum() == pytest.approx(realised[momentum].sum(), rel=0.2)


def test_knowable_oracle_is_deterministic_and_served_by_the_demo_oracle(project_medium: DemoTables) -> None:
    gt = project_medium.ground_truth
    known = _known(gt, seed=3)
    pd.testing.assert_series_equal(oracle.expected_spend_known_at(gt, CUTOFF, END, PROJECT_MEDIUM, seed=3), known)
    pd.testing.assert_series_equal(_known(gt, seed=3), known)
    other = _known(gt, seed=4)
    assert not other.equals(known)
    np.testing.assert_allclose(other.sum(), known.sum(), rtol=0.02)
    adoption = dataclasses.replace(PROJECT_MEDIUM, world="adoption")
    with pytest.raises(KeyError):  # the adoption oracle cannot read a project world's ground truth
        oracle.expected_spend_known_at(gt, CUTOFF, END, adoption, seed=3)


def test_knowable_oracle_ranks_far_better_than_spend(project_medium: DemoTables) -> None:
    tx, customers = project_medium.transactions, project_medium.customers
    spine = pd.DataFrame({"customer_id": customers["customer_id"], "cutoff": CUTOFF})
    labels = build_labels(tx, spine, KeyAccountRule(), horizon_months=12, active_months=12)
    eligible = labels[labels["eligible"]].set_index("customer_id")
    y = eligible["became_key_account"]
    known = _known(project_medium.ground_truth).reindex(eligible.index)
    oracle_ap = average_precision_score(y, known)
    for days in (90, 365):
        spend = realised_spend(tx, CUTOFF - pd.Timedelta(days=days), CUTOFF).reindex(eligible.index, fill_value=0.0)
        assert oracle_ap > 1.5 * average_precision_score(y, spend), f"{days}-day spend"
    assert oracle_ap < 0.9  # the tenders still to come are not knowable
