"""The feature builder on Spark: the same per-customer code, in the executors, bucket by bucket of customers.

The lines are partitioned into buckets by a hash of the customer id (`repartition`), so a bucket holds whole
customers; each bucket is one task (`mapInPandas`), which runs `features.builder.build_bucket_features`, the
DuckDB builder itself, on its lines and its customers' spine rows (the spine is broadcast). The few features
that compare a customer with every customer are computed again on the driver over every bucket's population rows
(`features.population.population_features`, the same family code as in one DuckDB build). Nothing here defines
a feature.

The spine, the customers and the snapshots are small tables held by the driver (spine customers without any
line are built there); the lines are a Spark DataFrame
(a data lake's table or Parquet files). Timestamps are read as UTC wall-clock time: the session time zone must
be UTC (`spark.sql.session.timeZone`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import types as st

from features.builder import SPINE_COLUMNS, TRANSACTION_COLUMNS, build_bucket_features
from features.catalogue import feature_catalogue
from features.population import POPULATION_COLUMNS, POPULATION_WINDOWS_DAYS, population_features

SPINE_ROW = "kap_spine_row"  # a spine row's position; null on a population row of a customer not probed there


def build_features_spark(
    lines: SparkFrame,
    customers: pd.DataFrame,
    spine: pd.DataFrame,
    windows_days: tuple[int, ...] = (90, 180, 365),
    snapshots: pd.DataFrame | None = None,
    families: tuple[str, ...] | None = None,
    buckets: int = 8,
) -> pd.DataFrame:
    """`features.builder.build_features` of the `lines` (a Spark DataFrame of transactions), the customers of
    each of `buckets` buckets (Spark partitions) built by one task: the same rows, columns, dtypes and values."""
    session = lines.sparkSession
    if session.conf.get("spark.sql.session.timeZone") != "UTC":
        raise ValueError("the Spark session's time zone must be UTC (spark.sql.session.timeZone), or timestamps "
                         "shift by its offset")
    catalogue = feature_catalogue(windows_days, families)
    spine = pd.DataFrame({"customer_id": spine["customer_id"].astype(str),
                          "cutoff": pd.to_datetime(spine["cutoff"]).astype("datetime64[us]")})
    cutoff_day = spine["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64)
    cutoffs = np.unique(cutoff_day)
    columns = [c for c in TRANSACTION_COLUMNS if c in lines.columns]  # the builder refuses what lacks
    probes = pd.DataFrame({"customer_id": spine["customer_id"], "cutoff_day": cutoff_day.astype(np.int32),
                           SPINE_ROW: np.arange(len(spine), dtype=np.int64)})
    shared = session.sparkContext.broadcast((probes, customers, snapshots))

    def build_bucket(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        bucket_lines = pd.concat(list(batches), ignore_index=True)
        if not bucket_lines.empty:
            yield _bucket_rows(bucket_lines, *shared.value, cutoffs, windows_days, families)

    schema = st.StructType([
        st.StructField("customer_id", st.StringType()), st.StructField("cutoff_day", st.IntegerType()),
        *(st.StructField(f"spend_units_{w}d", st.LongType()) for w in POPULATION_WINDOWS_DAYS),
        *(st.StructField(f"bought_{w}d", st.BooleanType()) for w in POPULATION_WINDOWS_DAYS),
        st.StructField("employees", st.DoubleType()),
        *(st.StructField(d.name, st.StringType() if d.kind == "categorical" else st.DoubleType()) for d in catalogue),
        st.StructField(SPINE_ROW, st.LongType())])
    rows = lines.select(*columns).repartition(buckets, "customer_id").mapInPandas(build_bucket, schema).toPandas()
    shared.unpersist()
    without_lines = probes.loc[~probes["customer_id"].isin(rows["customer_id"])]
    if len(without_lines):  # spine customers with no line: no bucket holds them, their history is empty
        no_lines = lines.select(*columns).limit(0).toPandas()
        rows = pd.concat([rows, _bucket_rows(no_lines, without_lines, customers, snapshots, cutoffs, windows_days,
                                             families)], ignore_index=True)
    probed = rows.loc[rows[SPINE_ROW].notna()].sort_values(SPINE_ROW)
    features = pd.DataFrame({"customer_id": spine["customer_id"], "cutoff": spine["cutoff"]})
    for feature in catalogue:
        values = probed[feature.name].to_numpy()
        features[feature.name] = (pd.Series(values, dtype="str").where(pd.notna(values), np.nan)
                                  if feature.kind == "categorical" else values.astype("float64"))
    return population_features(features, rows[POPULATION_COLUMNS], customers, families)


def _bucket_rows(lines: pd.DataFrame, probes: pd.DataFrame, customers: pd.DataFrame, snapshots: pd.DataFrame | None,
                 cutoffs: np.ndarray, windows_days: tuple[int, ...], families: tuple[str, ...] | None) -> pd.DataFrame:
    """The population rows of the customers of `lines` (and of `probes` when `lines` is empty), with the features
    of their probes (the spine rows whose SPINE_ROW is set)."""
    ids = pd.Index((probes["customer_id"] if lines.empty else lines["customer_id"]).unique())
    probes = probes.loc[probes["customer_id"].isin(ids)]
    probe_day = probes["cutoff_day"].to_numpy(np.int64)
    features, population = build_bucket_features(
        lines, customers.loc[customers["customer_id"].isin(ids)],
        pd.DataFrame({"customer_id": probes["customer_id"].to_numpy(),
                      "cutoff": probe_day.astype("datetime64[D]").astype("datetime64[us]")}),
        cutoffs, windows_days, None if snapshots is None else snapshots.loc[snapshots["customer_id"].isin(ids)],
        families)
    features = features.drop(columns=SPINE_COLUMNS).assign(
        customer_id=probes["customer_id"].to_numpy(), cutoff_day=probe_day.astype(np.int32),
        **{SPINE_ROW: probes[SPINE_ROW].to_numpy()})
    return population.merge(features, on=["customer_id", "cutoff_day"], how="left")
