"""Batch scoring on Spark ranks as single-node scoring does, and explains the top rows the same way."""

import numpy as np
import pandas as pd
import pytest

from features.builder import build_features
from features.catalogue import feature_catalogue
from models.calibration import fit_calibrator
from models.combined import KeyAccountModel
from models.estimator import predict_probability, train_classifier
from models.explain import reason_codes, shap_explanation
from models.scoring import assign_tiers, rank_scores, score_1_99
from models.spark_scoring import score_on_spark
from models.spec import FeatureSpec
from tests.conftest import small_world

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group(name="spark")]

WINDOWS = (30, 90, 180, 365)
COLUMNS = ["spend_sum_365d", "orders_count_90d", "recency_days_since_last_order", "categories_distinct_365d",
           "firm_industry"]


@pytest.fixture(scope="module")
def scored():
    """Features of every customer at one cutoff and a small model on them (a label of later spend)."""
    tables = small_world()
    spine = pd.DataFrame({"customer_id": tables.customers["customer_id"], "cutoff": pd.Timestamp("2023-06-01")})
    features = build_features(tables.transactions, tables.customers, spine.astype({"cutoff": "datetime64[us]"}),
                              WINDOWS)
    later = tables.transactions.loc[tables.transactions["timestamp"] >= "2023-06-01"].groupby("customer_id")["amount"]
    label = features["customer_id"].map(later.sum()).fillna(0).gt(features["spend_sum_365d"])
    spec = FeatureSpec.fit(features, COLUMNS, ["firm_industry"])
    X = spec.conform(features)
    result = train_classifier(X, label, X, label, {"n_estimators": 30, "num_leaves": 4}, 5, seed=1)
    calibrator = fit_calibrator(label, predict_probability(result.booster, X).to_numpy(), "isotonic")
    return KeyAccountModel(result.booster, spec, calibrator), features


def test_spark_ranks_and_explains_as_single_node_scoring(spark, scored):
    model, features = scored
    catalogue = feature_catalogue(WINDOWS)
    on_spark = score_on_spark(spark.createDataFrame(features).repartition(3), model, catalogue, explain_top=40)

    raw = model.raw_score(features)
    single = rank_scores(pd.DataFrame({"customer_id": features["customer_id"], "raw_score": raw.to_numpy(),
                                       "probability": model.probability(raw).to_numpy()}))
    assert on_spark["customer_id"].tolist() == single["customer_id"].tolist()
    np.testing.assert_allclose(on_spark["probability"], single["probability"], rtol=1e-12)
    assert on_spark["probability"].nunique() < len(on_spark)  # calibration steps tie: the raw score breaks them
    np.testing.assert_array_equal(on_spark["score"], score_1_99(single["raw_score"]).to_numpy())
    assert on_spark["tier"].tolist() == assign_tiers(single.reset_index(drop=True), 100, None, 0.10, 0.30).tolist()

    top = features.set_index("customer_id").loc[single["customer_id"].iloc[:40]].reset_index()
    X = model.spec.conform(top)
    shap_values = pd.DataFrame(shap_explanation(model.booster, X).values, columns=list(model.spec.columns))
    expected = reason_codes(shap_values, top, catalogue, 3)
    pd.testing.assert_frame_equal(on_spark.loc[:39, expected.columns], expected)
    assert (on_spark.loc[40:, expected.columns] == "").all().all()
