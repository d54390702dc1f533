"""Stages, configuration, I/O, MLflow and the `kap` command line."""

import warnings

import pandas as pd

# pandera imports pyspark.pandas when PySpark is installed, which warns about pandas 3 on every command, and
# PySpark's Arrow conversions use pandas arguments pandas 3 deprecates; the project uses PySpark's DataFrame API
# only (docs/spark.md)
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module="pyspark")
