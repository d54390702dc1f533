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

