"""The noise guard: grouped permutation importance on hand-built scores, and a pure-noise column that an unguarded
model gives as a sales reason and a guarded one never does."""

import numpy as np
import pandas as pd
import pytest

from features.catalogue import feature_catalogue
from models.combined import FitSettings, fit_model
from models.explain import mean_abs_shap, reason_codes, shap_explanation
from models.signal import SignalGuard, assess_signal, measure_groups, permutation_drops
from models.split import time_split


def test_columns_are_grouped_by_measure_in_column_order_and_an_unnamed_one_is_its_own():
    groups = measure_groups(("spend_90d", "age", "spend_365d", "extra"),
                            {"spend_90d": "spend", "spend_365d": "spend", "age": "age"})
    assert groups == {"spend": ("spend_90d", "spend_365d"), "age": ("age",), "extra": ("extra",)}


def _frame(n: int = 200) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    signal = rng.random(n)
    X = pd.DataFrame({"signal": signal, "window_a": signal, "window_b": signal, "unused": rng.random(n),
                      "industry": pd.Categorical(rng.choice(["Food", "Retail"], n))})
    return X, pd.Series(signal + rng.normal(0, 0.2, n) > 0.8)


def test_a_measures_columns_share_one_permutation_and_a_column_the_score_ignores_drops_nothing():
    X, y = _frame()
    before = X.copy()

    def score(frame: pd.DataFrame) -> np.ndarray:
        assert (frame["window_a"] == frame["window_b"]).all()  # shuffled together, never apart
        assert isinstance(frame["industry"].dtype, pd.CategoricalDtype)
        return frame["signal"].to_numpy()

    groups = {"signal": ("signal",), "window": ("window_a", "window_b"), "unused": ("unused",),
              "industry": ("industry",)}
    base, drops = permutation_drops(score, X, y, groups, repeats=4, seed=1)
    pd.testing.assert_frame_equal(X, before)  # the input is not shuffled in place
    assert base > 0.5 and (drops["signal"] > 0.2).all()
    assert (drops["window"] == 0).all() and (drops["unused"] == 0).all() and (drops["industry"] == 0).all()
    _, again = permutation_drops(score, X, y, groups, repeats=4, seed=1)
    np.testing.assert_array_equal(again["signal"], drops["signal"])


def test_a_measure_stays_only_when_its_mean_drop_clears_the_null_spread_or_the_prior_reads_it():
    X, y = _frame()
    groups = {"signal": ("signal",), "unused": ("unused",), "prior": ("window_a",)}
    guard = SignalGuard(repeats=6, z=2.0)
    report = assess_signal(lambda frame: frame["signal"].to_numpy(), X, y, groups, guard, seed=1,
                           protected=("window_a",))
    by_name = {m.measure: m for m in report.measures}
    _, drops = permutation_drops(lambda frame: frame["signal"].to_numpy(), X, y, groups, 6, seed=1)
    assert by_name["signal"].lower_bound == pytest.approx(
        drops["signal"].mean() - 2.0 * drops["signal"].std(ddof=1) * np.sqrt(1 + 1 / 6))
    assert by_name["signal"].kept and not by_name["signal"].protected
    assert not by_name["unused"].kept and by_name["unused"].mean_drop == 0
    assert by_name["prior"].kept and by_name["prior"].protected and by_name["prior"].mean_drop == 0
    assert report.dropped_columns == ("unused",)


def test_a_drop_below_min_drop_goes_but_the_best_measure_stays_when_all_would():
    X, y = _frame()
    groups = {"unused": ("unused",), "signal": ("signal",)}
    report = assess_signal(lambda frame: frame["signal"].to_numpy(), X, y, groups, SignalGuard(4, 2.0, 0.99), seed=1)
    assert [m.measure for m in report.measures if m.kept] == ["signal"]  # the model needs a column


def test_without_positives_nothing_is_tested_and_nothing_dropped():
    X, y = _frame()
    report = assess_signal(lambda frame: frame["signal"].to_numpy(), X, y & False, {"unused": ("unused",)},
                           SignalGuard(), seed=1)
    assert report.measures == () and report.dropped_columns == ()


@pytest.mark.parametrize(("repeats", "z", "min_drop"), [(1, 2.0, 0.0), (5, -1.0, 0.0), (5, 2.0, -0.1)])
def test_a_guard_that_cannot_test_is_refused(repeats, z, min_drop):
    with pytest.raises(ValueError):
        SignalGuard(repeats, z, min_drop)


CUTOFFS = list(pd.date_range("2022-01-01", "2024-01-01", freq="MS"))
CATALOGUE = feature_catalogue((90, 365))
FEATURES = ("spend_sum_90d", "spend_sum_365d", "recency_days_since_last_order", "firm_employees", "firm_age_years",
            "firm_country")
NOISE = ("firm_age_years", "firm_country")


def _customers(rows_per_cutoff: int, seed: int) -> pd.DataFrame:
    """Customers whose outcome follows spend, recency and firm size; company age and country are pure noise."""
    rng = np.random.default_rng(seed)
    n = len(CUTOFFS) * rows_per_cutoff
    frame = pd.DataFrame({"cutoff": np.repeat(CUTOFFS, rows_per_cutoff),
                          "spend_sum_365d": rng.gamma(2.0, 500.0, n)})
    frame["spend_sum_90d"] = frame["spend_sum_365d"] * rng.beta(2, 6, n)
    frame["recency_days_since_last_order"] = rng.exponential(60, n).round()
    frame["firm_employees"] = rng.lognormal(3, 1, n).round() + 1
    frame["firm_age_years"] = rng.uniform(0, 100, n).round()
    frame["firm_country"] = rng.choice(["DE", "FR", "IT", "ES", "NL"], n)
    momentum = (np.log1p(frame["spend_sum_90d"]) + 0.5 * np.log1p(frame["spend_sum_365d"])
                - 0.01 * frame["recency_days_since_last_order"] + 0.4 * np.log(frame["firm_employees"]))
    frame["label"] = momentum + rng.normal(0, 0.6, n) > np.quantile(momentum, 0.9)
    return frame


def _fit(guard: SignalGuard | None):
    # small leaves and many of them: an unguarded model that fits noise, as on small real data
    settings = FitSettings(
        target="label", features=FEATURES, categorical=("firm_country",),
        hyperparameters={"n_estimators": 200, "num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 5,
                         "n_jobs": 1},
        early_stopping_rounds=20, seed=3, prior_features=("spend_sum_365d",), calibration_method="isotonic",
        isotonic_pseudo_rows=1.0, refit=True, signal_guard=guard, measure_of={f.name: f.measure for f in CATALOGUE})
    return fit_model(_customers(400, seed=0), time_split(CUTOFFS, 12), settings)


def _reasons(model, customers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    X = model.spec.conform(customers)
    explanation = shap_explanation(model.booster, X, model.prior)
    shap_values = pd.DataFrame(explanation.values, columns=X.columns, index=X.index)
    return mean_abs_shap(explanation), reason_codes(shap_values, customers, CATALOGUE, top_n=3)


def test_pure_noise_the_unguarded_model_gives_as_reasons_never_reaches_reasons_with_the_guard():
    customers = _customers(500, seed=1).query("cutoff == @CUTOFFS[-1]")
    noise_reason = "company age|country"
    unguarded, _ = _fit(None)
    importance, reasons = _reasons(unguarded, customers)
    assert (importance.set_index("feature").loc[list(NOISE), "mean_abs_shap"] > 0.01).all()
    assert reasons.apply(lambda column: column.str.contains(noise_reason)).any(axis=1).mean() > 0.1

    guarded, report = _fit(SignalGuard(repeats=10, z=2.0))
    assert {m.measure for m in report.signal.dropped} == set(NOISE)
    assert {m.measure for m in report.signal.measures if m.kept} == {
        "spend_sum", "recency_days_since_last_order", "firm_employees"}
    assert not set(NOISE) & set(guarded.spec.columns) and "firm_country" not in guarded.spec.categories
    assert guarded.booster.num_feature() == len(guarded.spec.columns)
    assert guarded.booster.num_trees() == report.training.best_iteration  # refitted with the second stopping
    _, reasons = _reasons(guarded, customers)
    assert not reasons.apply(lambda column: column.str.contains(noise_reason)).any(axis=None)


def test_a_measure_the_model_does_not_read_is_not_shuffled_and_goes():
    X, y = _frame()

    def score(frame: pd.DataFrame) -> np.ndarray:
        assert frame["unused"].equals(X["unused"])
        return frame["signal"].to_numpy() + 0 * frame["unused"].to_numpy()

    report = assess_signal(score, X, y, {"signal": ("signal",), "unused": ("unused",)}, SignalGuard(), seed=1,
                           used={"signal"})
    assert [(m.measure, m.kept, m.mean_drop) for m in report.measures][1] == ("unused", False, 0.0)
