"""MLflow: tracking set-up, model logging, registry aliases and loading the model a run should use.

Nothing is configured at import time; stages call `configure` with params. With no server the store is
the SQLite file named in params (in the project folder); MLFLOW_TRACKING_URI overrides it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib.metadata import version

import lightgbm as lgb
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models.spec import FeatureSpec
from pipeline.config import MlflowConfig
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

MODEL_REQUIREMENTS = [f"{pkg}=={version(pkg)}" for pkg in ("lightgbm", "pandas", "scikit-learn")]
FEATURE_SPEC_KEY = "feature_spec"


def configure(config: MlflowConfig) -> str:
    """Point MLflow at the configured store and experiment; returns the tracking URI in use."""
    uri = config.resolved_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(config.experiment)
    return uri


def model_metadata(spec: FeatureSpec) -> dict:
    return {FEATURE_SPEC_KEY: json.dumps(spec.to_dict())}


def save_model(model: lgb.LGBMClassifier, spec: FeatureSpec, example: pd.DataFrame, path: str) -> None:
    """Save the classifier in MLflow format with signature, input example and feature spec."""
    signature = infer_signature(example, model.predict_proba(spec.conform(example))[:, 1])
    mlflow.lightgbm.save_model(
        model, path, signature=signature, input_example=example.head(5),
        pip_requirements=MODEL_REQUIREMENTS, metadata=model_metadata(spec),
    )


def log_model(model: lgb.LGBMClassifier, spec: FeatureSpec, example: pd.DataFrame) -> str:
    """Log the classifier to the active run; returns its model URI."""
    signature = infer_signature(example, model.predict_proba(spec.conform(example))[:, 1])
    info = mlflow.lightgbm.log_model(
        model, name="model", signature=signature, input_example=example.head(5),
        pip_requirements=MODEL_REQUIREMENTS, metadata=model_metadata(spec),
    )
    return info.model_uri


def load_model(model_uri: str) -> tuple[lgb.LGBMClassifier, FeatureSpec]:
    """The LightGBM classifier (flavour, so it returns probabilities) and its feature spec."""
    try:
        info = mlflow.models.get_model_info(model_uri)
        model = mlflow.lightgbm.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        raise PipelineError(f"cannot load model {model_uri}: {exc}") from exc
    if not info.metadata or FEATURE_SPEC_KEY not in info.metadata:
        raise PipelineError(f"model {model_uri} carries no feature spec; retrain it with this version")
    return model, FeatureSpec.from_dict(json.loads(info.metadata[FEATURE_SPEC_KEY]))


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    aliases: tuple[str, ...]


def register(model_uri: str, name: str, promote: bool, run_id: str) -> Registration:
    """Register a model version as `challenger`; move `champion` to it too when `promote`."""
    client = MlflowClient()
    version_ = mlflow.register_model(model_uri, name, tags={"run_id": run_id})
    client.set_registered_model_alias(name, "challenger", version_.version)
    aliases = ["challenger"]
    if promote:
        client.set_registered_model_alias(name, "champion", version_.version)
        aliases.append("champion")
    return Registration(name, str(version_.version), tuple(aliases))


def alias_version(name: str, alias: str) -> str:
    """Version number carrying `alias`; a PipelineError that says what to do when there is none."""
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise PipelineError(
            f"no model version of '{name}' has the alias '{alias}' in {mlflow.get_tracking_uri()}: "
            "run the pipeline (`dvc repro`) so a model passes the gate, or set score.model_alias"
        ) from exc


def version_uri(name: str, version: str) -> str:
    """Registry URI pinned to one version (so a moving alias cannot change a run half-way)."""
    return f"models:/{name}/{version}"
