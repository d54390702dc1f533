"""MLflow "model from code" entry: the key-account pyfunc, filled from its artifacts when loaded.

Only MLflow's pyfunc loading runs this file (`mlflow models serve`, `mlflow.pyfunc.load_model`, spark_udf): it
runs the copy stored with the model, so whoever can write the registry's artifact store can run code there. The
pipeline never loads models this way (pipeline.common.tracking.load_version_model checks and reads the part files).
"""

import mlflow

from pipeline.common.tracking import KeyAccountPyfunc

mlflow.models.set_model(KeyAccountPyfunc())
