"""The feature builder on Spark: the same per-customer code, in the executors, bucket by bucket of customers.

The lines and the spine are split into buckets by a hash of the customer id; each bucket's lines and spine rows
meet in one executor (`cogroup(...).applyInPandas`), which runs `features.builder.build_bucket_features`, the
DuckDB builder itself, on them. The few features that compare a customer with every customer are computed
again on the driver over every bucket's population rows (`features.population.population_features`, the same
family code as in one DuckDB build). Nothing here defines a feature.

The spine, the customers and the snapshots are small tables held by the driver; the lines are a Spark DataFrame
(a data lake's table or Parquet files). Timestamps are read as UTC wall-clock time: the session time zone must
be UTC (`spark.sql.session.timeZone`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as sf
from pyspark.sql import types as st

from features.builder import SPINE_COLUMNS, TRANSACTION_COLUMNS, build_bucket_features
from features.catalogue import feature_catalogue
from features.population import POPULATION_COLUMNS, POPULATION_WINDOWS_DAYS, population_features

BUCKET = "kap_bucket"
SPINE_ROW = "kap_spine_row"  # a spine row's position; null on a population row of a customer not probed there
OPTIONAL_LINE_COLUMNS = ["product_id"]  # read when present (categories stand in for missing product ids)


def build_features_spark(
    lines: SparkFrame,
    customers: pd.DataFrame,
    spine: pd.DataFrame,
    windows_days: tuple[int, ...] = (90, 180, 365),
    snapshots: pd.DataFrame | None = None,
    families: tuple[str, ...] | None = None,
    buckets: int = 8,
) -> pd.DataFrame:
    """`features.builder.build_features` of the `lines` (a Spark DataFrame of transactions) with the customers
    of each of `buckets` buckets built in an executor: the same rows, columns, dtypes and values."""
    session = lines.sparkSession
    if session.conf.get("spark.sql.session.timeZone") != "UTC":
        raise ValueError("the Spark session's time zone must be UTC (spark.sql.session.timeZone), or timestamps "
                         "shift by its offset")
    catalogue = feature_catalogue(windows_days, families)
    spine = pd.DataFrame({"customer_id": spine["customer_id"].astype(str),
                          "cutoff": pd.to_datetime(spine["cutoff"]).astype("datetime64[us]")})
    cutoff_day = spine["cutoff"].to_numpy().astype("datetime64[D]").astype(np.int64)
    cutoffs = np.unique(cutoff_day)
    columns = [c for c in [*TRANSACTION_COLUMNS, *OPTIONAL_LINE_COLUMNS] if c in lines.columns]
    bucketed_lines = lines.select(*columns).withColumn(BUCKET, _bucket(buckets))
    spine_rows = session.createDataFrame(
        pd.DataFrame({"customer_id": spine["customer_id"], "cutoff_day": cutoff_day.astype(np.int32),
                      SPINE_ROW: np.arange(len(spine), dtype=np.int64)})).withColumn(BUCKET, _bucket(buckets))
    shared = session.sparkContext.broadcast((customers, snapshots))

    def build_bucket(bucket_lines: pd.DataFrame, bucket_spine: pd.DataFrame) -> pd.DataFrame:
        all_customers, all_snapshots = shared.value
        ids = pd.Index(pd.concat([bucket_lines["customer_id"], bucket_spine["customer_id"]]).unique())
        bucket_snapshots = None if all_snapshots is None else all_snapshots[all_snapshots["customer_id"].isin(ids)]
        features, population = build_bucket_features(
            bucket_lines.drop(columns=BUCKET), all_customers[all_customers["customer_id"].isin(ids)],
            pd.DataFrame({"customer_id": bucket_spine["customer_id"].astype(str),
                          "cutoff": bucket_spine["cutoff_day"].to_numpy().astype("datetime64[D]")
                          .astype("datetime64[us]")}),
            cutoffs, windows_days, bucket_snapshots, families)
        features = features.drop(columns=SPINE_COLUMNS).assign(
            customer_id=bucket_spine["customer_id"].to_numpy(), cutoff_day=bucket_spine["cutoff_day"].to_numpy(),
            **{SPINE_ROW: bucket_spine[SPINE_ROW].to_numpy()})
        return population.merge(features, on=["customer_id", "cutoff_day"], how="left")

    schema = st.StructType([
        st.StructField("customer_id", st.StringType()), st.StructField("cutoff_day", st.IntegerType()),
        *(st.StructField(f"spend_units_{w}d", st.LongType()) for w in POPULATION_WINDOWS_DAYS),
        *(st.StructField(f"bought_{w}d", st.BooleanType()) for w in POPULATION_WINDOWS_DAYS),
        st.StructField("employees", st.DoubleType()),
        *(st.StructField(d.name, st.StringType() if d.kind == "categorical" else st.DoubleType()) for d in catalogue),
        st.StructField(SPINE_ROW, st.LongType())])
    rows = (bucketed_lines.groupBy(BUCKET).cogroup(spine_rows.groupBy(BUCKET))
            .applyInPandas(build_bucket, schema).toPandas())
    shared.unpersist()
    probed = rows.loc[rows[SPINE_ROW].notna()].sort_values(SPINE_ROW)
    features = pd.DataFrame({"customer_id": spine["customer_id"], "cutoff": spine["cutoff"]})
    for feature in catalogue:
        values = probed[feature.name].to_numpy()
        features[feature.name] = (pd.Series(values, dtype="str").where(pd.notna(values), np.nan)
                                  if feature.kind == "categorical" else values.astype("float64"))
    return population_features(features, rows[POPULATION_COLUMNS], customers, families)


def _bucket(buckets: int) -> sf.Column:
    """The bucket of a row's customer: a hash of its id, the same for its lines and its spine rows."""
    return sf.pmod(sf.xxhash64("customer_id"), sf.lit(buckets))
