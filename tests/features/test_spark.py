"""The feature builder on a local Spark session gives DuckDB's features."""

import numpy as np
import pandas as pd
import pytest

from features.builder import build_features
from features.spark import build_features_spark
from tests.conftest import probed_spine, small_world

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group(name="spark")]

WINDOWS = (30, 90, 180, 365)


@pytest.fixture(scope="module")
def world():
    tables = small_world()
    spine = probed_spine(tables.customers["customer_id"].to_numpy(), every=2)
    return tables, spine.sample(frac=1, random_state=0, ignore_index=True)  # rows in no particular order


def test_spark_builds_the_features_duckdb_builds(spark, world, tmp_path):
    tables, spine = world
    tables.transactions.to_parquet(tmp_path / "transactions.parquet", index=False)
    lines = spark.read.parquet(str(tmp_path / "transactions.parquet"))
    on_spark = build_features_spark(lines, tables.customers, spine, WINDOWS, tables.firmographics, buckets=3)
    on_duckdb = build_features(tables.transactions, tables.customers, spine, WINDOWS, tables.firmographics)
    pd.testing.assert_frame_equal(on_spark, on_duckdb, rtol=1e-9, atol=0)


def test_spark_honours_the_families_and_the_customers_table_alone(spark, world):
    tables, spine = world
    families = ("spend", "wallet", "relationship", "firm")
    lines = spark.createDataFrame(tables.transactions)
    on_spark = build_features_spark(lines, tables.customers, spine, WINDOWS, None, families, buckets=2)
    on_duckdb = build_features(tables.transactions, tables.customers, spine, WINDOWS, None, families)
    pd.testing.assert_frame_equal(on_spark, on_duckdb, rtol=1e-9, atol=0)
    assert np.isfinite(on_spark["wallet_spend_vs_peers_365d"]).any()


def test_a_session_not_in_utc_is_refused(spark, world):
    tables, spine = world
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
    try:
        with pytest.raises(ValueError, match="time zone must be UTC"):
            build_features_spark(spark.createDataFrame(tables.transactions.head(10)), tables.customers, spine)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
