"""The feature builder on Spark: the same per-customer code, in the executors, bucket by bucket of customers.

The lines and the spine rows are partitioned into buckets by a hash of the customer id (one frame,
`repartition`), so a bucket holds whole customers; each bucket is one task (`mapInPandas`), which runs
`features.builder.build_bucket_features`, the DuckDB builder itself, on them. The few features that compare a
customer with every customer are computed again on the driver over every bucket's population rows
(`features.population.population_features`, the same family code as in one DuckDB build). Nothing here defines
a feature.

The spine, the customers and the snapshots are small tables held by the driver; the lines are a Spark DataFrame
(a data lake's table or Parquet files). Timestamps are read as UTC wall-clock time: the session time zone must
be UTC (`spark.sql.session.timeZone`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as sf
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
    spine_rows = session.createDataFrame(
        pd.DataFrame({"customer_id": spine["customer_id"], "cutoff_day": cutoff_day.astype(np.int32),
                      SPINE_ROW: np.arange(len(spine), dtype=np.int64)}))
    # lines and spine rows in one frame (each row null in the other's columns), partitioned by customer
    both = lines.select(*columns, *(sf.lit(None).cast(spine_rows.schema[c].dataType).alias(c)
                                    for c in ("cutoff_day", SPINE_ROW)))
    both = both.unionByName(spine_rows.select(
        *(sf.col(c) if c == "customer_id" else sf.lit(None).cast(lines.schema[c].dataType).alias(c) for c in columns),
        "cutoff_day", SPINE_ROW))
    shared = session.sparkContext.broadcast((customers, snapshots))

    def build_bucket(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frame = pd.concat(list(batches), ignore_index=True)
        if frame.empty:
            return
        probe = frame[SPINE_ROW].notna().to_numpy()
        bucket_lines, bucket_spine = frame.loc[~probe, columns], frame.loc[probe]
        all_customers, all_snapshots = shared.value
        ids = pd.Index(frame["customer_id"].unique())
        bucket_snapshots = None if all_snapshots is None else all_snapshots[all_snapshots["customer_id"].isin(ids)]
        spine_day = bucket_spine["cutoff_day"].to_numpy(np.int64)
        features, population = build_bucket_features(
            bucket_lines, all_customers[all_customers["customer_id"].isin(ids)],
            pd.DataFrame({"customer_id": bucket_spine["customer_id"].astype(str).to_numpy(),
                          "cutoff": spine_day.astype("datetime64[D]").astype("datetime64[us]")}),
            cutoffs, windows_days, bucket_snapshots, families)
        features = features.drop(columns=SPINE_COLUMNS).assign(
            customer_id=bucket_spine["customer_id"].to_numpy(), cutoff_day=spine_day.astype(np.int32),
            **{SPINE_ROW: bucket_spine[SPINE_ROW].to_numpy(np.int64)})
        yield population.merge(features, on=["customer_id", "cutoff_day"], how="left")

    schema = st.StructType([
        st.StructField("customer_id", st.StringType()), st.StructField("cutoff_day", st.IntegerType()),
        *(st.StructField(f"spend_units_{w}d", st.LongType()) for w in POPULATION_WINDOWS_DAYS),
        *(st.StructField(f"bought_{w}d", st.BooleanType()) for w in POPULATION_WINDOWS_DAYS),
        st.StructField("employees", st.DoubleType()),
        *(st.StructField(d.name, st.StringType() if d.kind == "categorical" else st.DoubleType()) for d in catalogue),
        st.StructField(SPINE_ROW, st.LongType())])
    rows = both.repartition(buckets, "customer_id").mapInPandas(build_bucket, schema).toPandas()
    shared.unpersist()
    probed = rows.loc[rows[SPINE_ROW].notna()].sort_values(SPINE_ROW)
    features = pd.DataFrame({"customer_id": spine["customer_id"], "cutoff": spine["cutoff"]})
    for feature in catalogue:
        values = probed[feature.name].to_numpy()
        features[feature.name] = (pd.Series(values, dtype="str").where(pd.notna(values), np.nan)
                                  if feature.kind == "categorical" else values.astype("float64"))
    return population_features(features, rows[POPULATION_COLUMNS], customers, families)
