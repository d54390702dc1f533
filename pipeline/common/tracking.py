"""MLflow: tracking set-up, model logging, registry aliases and loading the model a run should use.

Nothing is configured at import time; stages call `configure` with params. With no server the store is
the SQLite file named in params (in the project folder); MLFLOW_TRACKING_URI overrides it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models.combined import SPEC_PART, KeyAccountModel
from pipeline.common.config import TRACKING_URI_VARIABLE, MlflowConfig
from pipeline.common.errors import DataError, PipelineError

log = logging.getLogger(__name__)

MODEL_PACKAGES = ("mlflow", "lightgbm", "pandas", "scikit-learn")  # pinned in the logged model's requirements
TRACK_RECORD_TAG = "track_record"  # evaluate's plain-words result on the test cutoff, shown in the sales report
CHALLENGER, CHAMPION = "challenger", "champion"  # the registry aliases: every registered model, the one that scores


def configure(config: MlflowConfig) -> str:
    """Point MLflow at the configured store and experiment; returns the tracking URI in use."""
    uri = config.resolved_tracking_uri()
    refuse_corrupt_store(uri)
    user_override = os.environ.get(TRACKING_URI_VARIABLE)
    mlflow.set_tracking_uri(uri)
    # MLflow also exports the URI to the environment; in a process that configures several projects
    # (an orchestrator worker, a notebook, the tests) that export would override the next project's params
    if user_override is None:
        os.environ.pop(TRACKING_URI_VARIABLE, None)
    else:
        os.environ[TRACKING_URI_VARIABLE] = user_override
    mlflow.set_experiment(config.experiment)
    return uri


SQLITE_HEADER = b"SQLite format 3\x00"


def refuse_corrupt_store(uri: str) -> None:
    """A DataError naming the file when a local SQLite store exists but is not an SQLite database."""
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise DataError(str(path), None, "the MLflow store is not an SQLite database (damaged or overwritten): "
                                "restore it from a backup, or move it aside to start a new store (its runs and "
                                "registered models are then lost), or set mlflow.tracking_uri")


class KeyAccountPyfunc(mlflow.pyfunc.PythonModel):
    """The combined model (models.combined.KeyAccountModel) as an MLflow pyfunc: takes a feature snapshot frame
    and returns calibrated probabilities, so the logged model also serves as it is (`mlflow models serve`,
    `mlflow.pyfunc.spark_udf`).

    Stored as "model from code" (pipeline/common/mlflow_model.py) with the model's own files as artifacts (the
    trees as LightGBM text, the spec, calibrator and prior as JSON): loading a registry model never unpickles
    arbitrary objects.
    """

    def __init__(self, model: KeyAccountModel | None = None):
        self.model = model

    def load_context(self, context) -> None:
        self.model = KeyAccountModel.from_files(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:  # MLflow's interface
        return self.model.predict(model_input)


def _model_arguments(model: KeyAccountModel, example: pd.DataFrame, folder: Path) -> dict:
    return {
        "python_model": str(Path(__file__).with_name("mlflow_model.py")),
        "artifacts": model.write_files(folder),
        "signature": infer_signature(example, model.predict(example)),
        "input_example": example.head(5),
        "pip_requirements": [f"{package}=={version(package)}" for package in MODEL_PACKAGES],
        "metadata": {SPEC_PART: model.spec.to_dict()},
    }


def save_model(model: KeyAccountModel, example: pd.DataFrame, path: str) -> None:
    """Save the model in MLflow format with signature, input example and feature spec."""
    with tempfile.TemporaryDirectory() as folder:
        mlflow.pyfunc.save_model(path, **_model_arguments(model, example, Path(folder)))


def log_model(model: KeyAccountModel, example: pd.DataFrame) -> str:
    """Log the model to the active run; returns its model URI."""
    with tempfile.TemporaryDirectory() as folder:
        return mlflow.pyfunc.log_model(name="model", **_model_arguments(model, example, Path(folder))).model_uri


def load_model(model_uri: str) -> KeyAccountModel:
    """The model (trees, feature spec, calibrator, prior) behind a path, run or registry URI."""
    try:
        pyfunc = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    except (MlflowException, OSError) as exc:
        raise PipelineError(f"cannot load model {model_uri}: {exc}") from exc
    if not isinstance(pyfunc, KeyAccountPyfunc):
        raise PipelineError(f"{model_uri} is not a key-account model (found {type(pyfunc).__name__})")
    return pyfunc.model


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    aliases: tuple[str, ...]


def register(model_uri: str, name: str, promote: bool, run_id: str) -> Registration:
    """Register a model version as `challenger`; move `champion` to it too when `promote`."""
    client = MlflowClient()
    version_ = mlflow.register_model(model_uri, name, tags={"run_id": run_id})
    client.set_registered_model_alias(name, CHALLENGER, version_.version)
    aliases = [CHALLENGER]
    if promote:
        client.set_registered_model_alias(name, CHAMPION, version_.version)
        aliases.append(CHAMPION)
    return Registration(name, str(version_.version), tuple(aliases))


def find_alias_version(name: str, alias: str) -> str | None:
    """Version number carrying `alias`; None when the registered model or the alias does not exist (yet)."""
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def alias_version(name: str, alias: str) -> str:
    """Version number carrying `alias`; a PipelineError that says what to do when there is none."""
    try:
        version_ = find_alias_version(name, alias)
    except MlflowException as exc:
        raise PipelineError(f"cannot read the registry at {mlflow.get_tracking_uri()}: {exc}") from exc
    if version_ is None:
        raise PipelineError(
            f"no model version of '{name}' has the alias '{alias}' in {mlflow.get_tracking_uri()}: "
            "run the pipeline (`dvc repro`) so a model passes the gate, or set score.model_alias"
        )
    return version_


def _version_run(name: str, version: str) -> Run | None:
    """The run that logged a registered model version (None when it was registered without a run)."""
    client = MlflowClient()
    run_id = client.get_model_version(name, version).run_id
    return client.get_run(run_id) if run_id else None


def version_run_tag(name: str, version: str, tag: str) -> str | None:
    """A tag of the run that logged a registered model version (None if the run has no such tag, or the version
    was registered without a run)."""
    run = _version_run(name, version)
    return run.data.tags.get(tag) if run else None


def version_run_params(name: str, version: str) -> dict[str, str]:
    """The params logged by the run of a registered model version ({} when it was registered without a run)."""
    run = _version_run(name, version)
    return dict(run.data.params) if run else {}


def version_uri(name: str, version: str) -> str:
    """Registry URI pinned to one version (so a moving alias cannot change a run half-way)."""
    return f"models:/{name}/{version}"
