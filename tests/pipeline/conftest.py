"""Fixtures of the pipeline tests that log models to MLflow."""

import numpy as np
import pandas as pd
import pytest

from models.calibration import fit_calibrator
from models.combined import KeyAccountModel
from models.estimator import predict_probability, train_classifier
from models.spec import FeatureSpec


@pytest.fixture
def tiny_model() -> tuple[KeyAccountModel, pd.DataFrame]:
    """A small combined model on a spend and an industry column, and the frame it learnt from."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"spend": rng.gamma(2, 100, 600), "industry": rng.choice(["Retail", "Wholesale"], 600)})
    label = pd.Series(rng.random(600) < frame["spend"] / frame["spend"].max())
    spec = FeatureSpec.fit(frame, ["spend", "industry"], ["industry"])
    result = train_classifier(spec.conform(frame), label, spec.conform(frame), label,
                              {"n_estimators": 20, "num_leaves": 4}, 5, seed=1)
    calibrator = fit_calibrator(label, predict_probability(result.booster, spec.conform(frame)).to_numpy(), "platt")
    return KeyAccountModel(result.booster, spec, calibrator), frame
