import pandas as pd
import pytest

from pipeline.common.adapters import features_for
from pipeline.common.config import params_from_dict
from pipeline.common.errors import ConfigError
from pipeline.common.validation import ValidatedTables
from tests.conftest import customers_frame, small_params

CUTOFF = pd.Timestamp("2023-07-01")


def tables_with_products(known_history: pd.DataFrame, product_ids: pd.Series) -> ValidatedTables:
    transactions = known_history.assign(product_id=product_ids)
    return ValidatedTables(customers_frame(["A", "B"]), transactions, None, {})


def spine() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["A", "B"], "cutoff": [CUTOFF, CUTOFF]})


@pytest.mark.parametrize("families, refused", [
    (None, "categories, expansion"),
    (["spend", "categories", "products"], "categories"),
    (["spend", "products", "expansion"], "expansion"),
])
def test_category_families_are_refused_when_products_stand_in_for_categories(known_history, families, refused):
    params = params_from_dict(small_params(features={"families": families}))
    tables = tables_with_products(known_history, known_history["category"])  # validate's fill without categories
    with pytest.raises(ConfigError, match=f"features.families: {refused} need product categories.*without"):
        features_for(params, tables, spine())


def test_without_the_category_families_the_same_data_builds(known_history):
    params = params_from_dict(small_params(features={"families": ["spend", "products"]}))
    frame = features_for(params, tables_with_products(known_history, known_history["category"]), spine())
    assert frame.set_index("customer_id").loc["A", "products_distinct_365d"] == 3


def test_real_categories_build_the_category_families(known_history):
    params = params_from_dict(small_params(features={"families": ["spend", "categories", "expansion"]}))
    tables = tables_with_products(known_history, "P-" + known_history["invoice_id"])
    frame = features_for(params, tables, spine()).set_index("customer_id")
    assert frame.loc["A", "categories_distinct_365d"] == 3



@pytest.mark.spark
@pytest.mark.xdist_group(name="spark")
def test_the_spark_engine_reads_the_validated_lines_and_builds_the_same_features(spark, known_history, tmp_path):
    tables = tables_with_products(known_history, "P-" + known_history["invoice_id"])
    tables.transactions.to_parquet(tmp_path / "transactions.parquet", index=False)
    on_duckdb = features_for(params_from_dict(small_params(data={"validated_dir": str(tmp_path)})), tables, spine())
    params = params_from_dict(small_params(data={"validated_dir": str(tmp_path)},
                                           features={"engine": "spark", "spark": {"master": "local[2]"}}))
    pd.testing.assert_frame_equal(features_for(params, tables, spine()), on_duckdb, rtol=1e-9, atol=0)
