"""Buckets of customers built apart, then the population-level features over every bucket: the same features."""

import numpy as np
import pandas as pd
import pytest

from features.builder import build_bucket_features, build_features
from features.population import population_features
from tests.conftest import probed_spine, small_world

WINDOWS = (30, 90, 180, 365)


@pytest.fixture(scope="module")
def world():
    tables = small_world()
    return tables, probed_spine(tables.customers["customer_id"].to_numpy(), every=3)


def in_buckets(tables, spine: pd.DataFrame, buckets: int, families=None) -> pd.DataFrame:
    def bucket(frame: pd.DataFrame) -> np.ndarray:
        return pd.util.hash_pandas_object(frame["customer_id"], index=False).to_numpy() % buckets

    cutoffs = np.unique(spine["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64))
    features, rows = [], []
    for b in range(buckets):
        part = [frame[bucket(frame) == b] for frame in (tables.transactions, tables.customers, spine,
                                                       tables.firmographics)]
        bucket_features, bucket_rows = build_bucket_features(part[0], part[1], part[2], cutoffs, WINDOWS, part[3],
                                                             families)
        features.append(bucket_features)
        rows.append(bucket_rows)
    features = spine.merge(pd.concat(features), on=["customer_id", "cutoff"], how="left")
    return population_features(features, pd.concat(rows), tables.customers, families)


@pytest.mark.parametrize("families", [None, ("spend", "relationship")])
def test_buckets_built_apart_give_the_features_of_one_build(world, families):
    tables, spine = world
    whole = build_features(tables.transactions, tables.customers, spine, WINDOWS, tables.firmographics, families)
    bucketed = in_buckets(tables, spine, 4, families)
    pd.testing.assert_frame_equal(bucketed, whole, rtol=1e-9, atol=0)


def test_a_bucket_alone_ranks_its_customers_among_themselves(world):
    """What the global step corrects: per customer the features agree, the population-level ones do not."""
    tables, spine = world
    whole = build_features(tables.transactions, tables.customers, spine, WINDOWS, tables.firmographics)
    half = set(tables.customers["customer_id"].iloc[::2])
    rows = spine["customer_id"].isin(half).to_numpy()
    cutoffs = np.unique(spine["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64))
    alone, _ = build_bucket_features(tables.transactions[tables.transactions["customer_id"].isin(half)],
                                     tables.customers, spine[rows], cutoffs, WINDOWS, tables.firmographics)
    expected = whole[rows].reset_index(drop=True)
    pd.testing.assert_series_equal(alone["spend_sum_365d"], expected["spend_sum_365d"])
    assert not np.allclose(alone["spend_percentile_365d"], expected["spend_percentile_365d"])
