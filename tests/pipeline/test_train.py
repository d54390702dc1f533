"""Stage train: the logistic prior the trees boost from is configured by params and checked against the spec."""

import numpy as np
import pandas as pd
import pytest

from models.spec import FeatureSpec
from pipeline.config import params_from_dict
from pipeline.errors import ConfigError
from pipeline.train import fit_prior, hyperparameters
from tests.conftest import small_params

FRAME = pd.DataFrame({"spend_sum_365d": [0.0, 10.0, 1000.0, 5000.0], "firm_industry": ["a", "b", "a", "b"]})
LABEL = pd.Series([False, False, True, True])
SPEC = FeatureSpec.fit(FRAME, ["spend_sum_365d", "firm_industry"], ["firm_industry"])


def test_no_prior_when_the_list_is_empty_and_never_a_lightgbm_argument():
    params = params_from_dict(small_params(model={"prior_features": []}))
    assert fit_prior(params, SPEC, SPEC.conform(FRAME), LABEL) is None
    configured = params_from_dict(small_params(model={"prior_features": ["spend_sum_365d"]}))
    assert "prior_features" not in hyperparameters(configured)
    prior = fit_prior(configured, SPEC, SPEC.conform(FRAME), LABEL)
    assert prior.columns == ("spend_sum_365d",) and prior.coefficients[0] > 0
    assert np.all(np.diff(prior.log_odds(SPEC.conform(FRAME))) > 0)


@pytest.mark.parametrize("column", ["firm_industry", "spend_sum_999d"])
def test_prior_on_a_category_or_an_unknown_column_is_a_config_error(column):
    params = params_from_dict(small_params(model={"prior_features": [column]}))
    with pytest.raises(ConfigError, match=f"model.prior_features \\['{column}'\\].*e.g. spend_sum_365d"):
        fit_prior(params, SPEC, SPEC.conform(FRAME), LABEL)
