"""The combined model: fitted on a stacked panel with early stopping, a prior, calibration and refit; its files."""

import numpy as np
import pandas as pd
import pytest

from models.combined import PRIOR_PART, FitSettings, KeyAccountModel, fit_model, fitting_rows
from models.signal import SignalGuard
from models.split import time_split

CUTOFFS = list(pd.date_range("2021-01-01", "2024-01-01", freq="MS"))


def settings(**changes) -> FitSettings:
    values = {"target": "label", "features": ("spend_sum_365d", "orders", "industry"), "categorical": ("industry",),
              "hyperparameters": {"n_estimators": 60, "num_leaves": 4, "learning_rate": 0.1, "n_jobs": 1},
              "early_stopping_rounds": 10, "seed": 3, "prior_features": ("spend_sum_365d",),
              "calibration_method": "isotonic", "isotonic_pseudo_rows": 1.0, "refit": True}
    return FitSettings(**(values | changes))


def panel(rows_per_cutoff: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(CUTOFFS) * rows_per_cutoff
    frame = pd.DataFrame({
        "cutoff": np.repeat(CUTOFFS, rows_per_cutoff),
        "spend_sum_365d": rng.gamma(2.0, 500.0, n),
        "orders": rng.poisson(5, n).astype("float64"),
        "industry": rng.choice(["Retail", "Wholesale", "Food"], n),
    })
    frame["label"] = frame["spend_sum_365d"] * rng.lognormal(0, 0.5, n) + 100 * frame["orders"] > 2500
    return frame


SPLIT = time_split(CUTOFFS, 12)


def test_refit_learns_from_every_cutoff_through_validation_and_the_spec_knows_their_levels():
    rows = panel()
    assert set(fitting_rows(rows, SPLIT, refit=False)["cutoff"]) == set(SPLIT.train)
    assert set(fitting_rows(rows, SPLIT, refit=True)["cutoff"]) == set(SPLIT.refit)
    rows.loc[rows["cutoff"] == SPLIT.validation, "industry"] = "Mining"  # a level only validation has
    model, report = fit_model(rows, SPLIT, settings())
    assert "Mining" in model.spec.categories["industry"]
    assert model.booster.num_trees() == report.training.best_iteration  # refitted with the early-stopped rounds
    assert model.prior is not None and model.prior.columns == ("spend_sum_365d",)


def test_fitting_is_deterministic_and_calibrated_probabilities_keep_the_raw_ranking():
    rows, test = panel(), panel(seed=1)
    first, _ = fit_model(rows, SPLIT, settings())
    again, _ = fit_model(rows, SPLIT, settings())
    pd.testing.assert_series_equal(first.raw_score(test), again.raw_score(test))
    raw = first.raw_score(test)
    probability = first.predict(test)
    assert probability.between(0, 1).all()
    order = np.argsort(raw.to_numpy())
    assert np.all(np.diff(probability.to_numpy()[order]) >= 0)  # monotone in the raw score


def test_without_a_prior_or_refit_the_trees_are_the_early_stopped_ones():
    model, report = fit_model(panel(), SPLIT, settings(prior_features=(), refit=False))
    assert model.prior is None and model.booster is report.training.booster and report.signal is None


def test_measures_the_guard_leaves_out_are_gone_from_the_spec_the_trees_and_the_input_scoring_needs():
    model, report = fit_model(panel(), SPLIT, settings(signal_guard=SignalGuard(), measure_of={}))
    dropped = set(report.signal.dropped_columns)
    assert "industry" in dropped and "spend_sum_365d" not in dropped  # never read by the trees; the prior's
    assert not dropped & set(model.spec.columns) and "industry" not in model.spec.categories
    assert model.booster.num_feature() == len(model.spec.columns)
    assert model.predict(panel(seed=1).drop(columns=sorted(dropped))).between(0, 1).all()


@pytest.mark.parametrize("column", ["industry", "spend_sum_999d"])
def test_a_prior_on_a_category_or_an_unknown_column_is_refused(column):
    with pytest.raises(ValueError, match=rf"\['{column}'\] are not numeric features.*e.g. spend_sum_365d"):
        settings(prior_features=(column,))


def test_the_model_reads_back_from_its_files_and_one_without_a_prior_file(tmp_path):
    rows, test = panel(), panel(seed=1)
    model, _ = fit_model(rows, SPLIT, settings())
    files = model.write_files(tmp_path)
    loaded = KeyAccountModel.from_files(files)
    assert (loaded.spec, loaded.calibrator, loaded.prior) == (model.spec, model.calibrator, model.prior)
    pd.testing.assert_series_equal(loaded.predict(test), model.predict(test))
    plain, _ = fit_model(rows, SPLIT, settings(prior_features=()))
    files = plain.write_files(tmp_path)
    del files[PRIOR_PART]  # a model from before priors existed
    assert KeyAccountModel.from_files(files).prior is None
