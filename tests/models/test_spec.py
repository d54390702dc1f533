import pandas as pd
import pytest

from models.spec import FeatureSpec, SpecMismatchError

TRAIN = pd.DataFrame({"spend": [1.0, 2.0, 3.0], "industry": ["Retail", "Wholesale", None], "unused": 1})


def test_conform_orders_columns_and_maps_unseen_levels_to_missing():
    spec = FeatureSpec.fit(TRAIN, ["industry", "spend"], ["industry"])
    scoring = pd.DataFrame({"spend": [5], "industry": ["Mining"], "extra": ["ignored"]})
    X = spec.conform(scoring)
    assert list(X.columns) == ["industry", "spend"]
    assert list(X["industry"].cat.categories) == ["Retail", "Wholesale"]
    assert X["industry"].isna().all()
    assert spec == FeatureSpec.from_dict(spec.to_dict())


def test_conform_refuses_missing_or_non_numeric_columns():
    spec = FeatureSpec.fit(TRAIN, ["industry", "spend"], ["industry"])
    with pytest.raises(SpecMismatchError, match="spend"):
        spec.conform(TRAIN.drop(columns="spend"))
    with pytest.raises(SpecMismatchError, match="numeric"):
        spec.conform(TRAIN.assign(spend=["a", "b", "c"]))
