"""MLflow "model from code" entry: the key-account pyfunc, filled from its artifacts when loaded."""

import mlflow

from pipeline.common.tracking import KeyAccountPyfunc

mlflow.models.set_model(KeyAccountPyfunc())
