"""The Spark session of `features.engine: spark`, configured from params (docs/spark.md)."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from pipeline.common.config import SparkConfig

# what the builder needs whatever the cluster: timestamps read as UTC wall-clock time, Arrow between the JVM and
# pandas, and workers quiet about pandera's import of pyspark.pandas under pandas 3
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.executorEnv.PYTHONWARNINGS": "ignore:PySpark does not yet fully support pandas:FutureWarning",
}


def spark_session(cfg: SparkConfig, app_name: str = "key-account-potential") -> SparkSession:
    """The session (an existing one, under spark-submit, is reused): master from SPARK_MASTER, else params, else
    spark-submit or spark-defaults.conf, else Spark's local[*]; params' conf on top, then REQUIRED_CONF. A local
    master runs the workers with this interpreter (they must import pandas, DuckDB and this package)."""
    master = cfg.resolved_master()
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    if master is None or master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**cfg.conf, **REQUIRED_CONF}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    for key, value in REQUIRED_CONF.items():  # a reused session keeps its own runtime settings otherwise
        if not key.startswith("spark.executorEnv."):
            session.conf.set(key, value)
    return session
