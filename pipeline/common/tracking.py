"""MLflow: tracking set-up, model logging, registry aliases and loading the model a run should use.

Nothing is configured at import time; stages call `configure` with params. With no server the store is
the SQLite file named in params (in the project folder); MLFLOW_TRACKING_URI overrides it.

Loading never runs code stored with a model: the installed package builds it from its part files, and a registry
version's files are checked against the SHA-256 recorded on the version at training (README, "Trust model").
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path, PurePosixPath

import lightgbm as lgb
import mlflow
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

from models.combined import SPEC_PART, KeyAccountModel
from pipeline.common.config import TRACKING_URI_VARIABLE, MlflowConfig
from pipeline.common.errors import DataError, PipelineError
from pipeline.common.fingerprint import file_sha256

log = logging.getLogger(__name__)

MODEL_PACKAGES = ("mlflow", "lightgbm", "pandas", "scikit-learn")  # pinned in the logged model's requirements
TRACK_RECORD_TAG = "track_record"  # evaluate's plain-words result on the test cutoff, shown in the sales report
CHALLENGER, CHAMPION = "challenger", "champion"  # the registry aliases: every registered model, the one that scores
ARTIFACT_HASH_TAG = "artifact_sha256."  # + part name: the SHA-256 of a model part file, on its run and version
DATA_HASH_TAG, PARAMS_HASH_TAG = "training_data_hash", "training_params_hash"  # on the run and the version
MLMODEL_FILE = "MLmodel"  # MLflow's description of a model folder; read as YAML data, never run


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
    trees as LightGBM text, the spec, calibrator and prior as JSON). Serving through this flavour runs the Python
    file stored with the model; the pipeline itself never does (`load_model`, `load_version_model`).
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


@dataclass(frozen=True)
class StoredModel:
    """A model logged to a run: its model URI and the SHA-256 of each of its part files (by part name)."""

    uri: str
    artifact_sha256: dict[str, str]


def log_model(model: KeyAccountModel, example: pd.DataFrame) -> StoredModel:
    """Log the model to the active run and tag the run with each part file's SHA-256 (`artifact_sha256.<part>`)."""
    with tempfile.TemporaryDirectory() as folder:
        arguments = _model_arguments(model, example, Path(folder))
        hashes = {part: file_sha256(path) for part, path in arguments["artifacts"].items()}
        uri = mlflow.pyfunc.log_model(name="model", **arguments).model_uri
    mlflow.set_tags({ARTIFACT_HASH_TAG + part: digest for part, digest in hashes.items()})
    return StoredModel(uri, hashes)


@dataclass(frozen=True)
class TrainingFingerprint:
    """What a trained model is checked and recognised by: the SHA-256 of each part file (checked before a
    registry version is loaded), and the fingerprints of the data it learnt from and of the params (and code)
    that shaped it (the same training is not registered twice)."""

    artifact_sha256: dict[str, str]
    data_hash: str
    params_hash: str

    def tags(self) -> dict[str, str]:
        """The fingerprint as run or model version tags."""
        return ({ARTIFACT_HASH_TAG + part: digest for part, digest in self.artifact_sha256.items()}
                | {DATA_HASH_TAG: self.data_hash, PARAMS_HASH_TAG: self.params_hash})

    def summary(self) -> dict:
        """The fingerprint as fields of the training summary."""
        return {"artifact_sha256": dict(self.artifact_sha256), DATA_HASH_TAG: self.data_hash,
                PARAMS_HASH_TAG: self.params_hash}

    @classmethod
    def from_summary(cls, summary: Mapping, file: str) -> TrainingFingerprint:
        """The fingerprint in a training summary (`file`, named in the error when it has none)."""
        try:
            return cls(dict(summary["artifact_sha256"]), summary[DATA_HASH_TAG], summary[PARAMS_HASH_TAG])
        except KeyError as exc:
            raise PipelineError(f"{file} records no {exc.args[0]} (written before models were fingerprinted): "
                                "train again (`dvc repro`, or `kap train`) before registering") from exc


def load_model(model_uri: str) -> KeyAccountModel:
    """The model (trees, feature spec, calibrator, prior) in a local MLflow model folder (a stage's own
    output), built by the installed package from its part files; a pinned registry URI `models:/<name>/<version>`
    is loaded as `load_version_model` does. No code stored with the model runs."""
    pinned = re.fullmatch(r"models:/([^/@]+)/(\d+)", model_uri)
    if pinned:
        return load_version_model(*pinned.groups())
    folder = Path(model_uri)
    mlmodel = folder / MLMODEL_FILE
    if not mlmodel.is_file():
        raise PipelineError(f"cannot load model {model_uri}: not a local model folder (no {MLMODEL_FILE} file in "
                            "it); registry models load by version (models:/<name>/<version>)")
    files = {part: str(folder / path) for part, path in _part_paths(mlmodel, model_uri).items()}
    try:
        return KeyAccountModel.from_files(files)
    except (KeyError, OSError, ValueError, lgb.basic.LightGBMError) as exc:
        raise PipelineError(f"cannot load model {model_uri}: {exc!r} (not a key-account model, or damaged: "
                            "train again)") from exc


def load_version_model(name: str, version: str) -> KeyAccountModel:
    """A registry model version, built by the installed package from its part files after checking each one's
    SHA-256 against the hashes recorded on the version at training. Only the part files are downloaded (into a
    temporary folder: a read-only artifact store serves); nothing stored with the model runs or is unpickled.

    A changed or missing part is a DataError (exit 2) naming the part, the version and both hashes; a version
    registered without hashes is a PipelineError that says to train and register again.
    """
    where = f"model version {version} of '{name}'"
    client = MlflowClient()
    try:
        tags = client.get_model_version(name, version).tags
    except MlflowException as exc:
        raise PipelineError(f"cannot read {where} in the registry at {mlflow.get_tracking_uri()}: {exc}") from exc
    expected = {key.removeprefix(ARTIFACT_HASH_TAG): value for key, value in tags.items()
                if key.startswith(ARTIFACT_HASH_TAG)}
    if not expected:
        raise PipelineError(f"{where} carries no SHA-256 of its artifacts (registered before they were recorded), "
                            "so it cannot be checked and is not loaded: train and register again (`dvc repro`) "
                            "and let the new version pass the gate, or set score.model_alias to a checked version")
    with tempfile.TemporaryDirectory(prefix="kap-model-") as folder:
        files = _checked_files(version_uri(name, version), expected, Path(folder), where)
        return KeyAccountModel.from_files(files)


def _part_paths(mlmodel: Path, where: str) -> dict[str, PurePosixPath]:
    """Each part file's path inside the model folder, as its MLmodel file lists them (read as plain data)."""
    try:
        description = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
        listed = description["flavors"]["python_function"]["artifacts"]
        paths = {str(part): PurePosixPath(entry["path"]) for part, entry in listed.items()}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{where} ({MLMODEL_FILE})", None, "lists no model part files (flavors.python_function."
                        f"artifacts; {exc!r}): not a key-account model, or the file was changed") from exc
    outside = sorted(part for part, path in paths.items() if path.is_absolute() or ".." in path.parts)
    if outside:
        raise DataError(f"{where} ({MLMODEL_FILE})", None, f"refused: part(s) {outside} point outside the "
                        "model's folder (the file was changed)")
    return paths


def _checked_files(model_uri: str, expected: Mapping[str, str], folder: Path, where: str) -> dict[str, str]:
    """Download the MLmodel file and each part file of a model into `folder` and check each part's SHA-256
    against `expected` (part -> hash); returns each part's local file."""
    root = model_uri
    if model_uri.startswith("models:/"):  # a registry version or a logged model (models:/m-...): its folder
        try:
            root = ModelsArtifactRepository.get_underlying_uri(model_uri)
        except MlflowException as exc:
            raise PipelineError(f"cannot find the artifacts of {where} ({model_uri}): {exc}") from exc
    root = root.rstrip("/")
    parts = _part_paths(_download(f"{root}/{MLMODEL_FILE}", folder, where), where)
    unrecorded = sorted(parts.keys() - expected.keys())
    if unrecorded:
        raise DataError(root, None, f"refused: the artifact was changed after training: {where} has part(s) "
                        f"{unrecorded} without a SHA-256 recorded at training")
    files = {}
    for part, digest in expected.items():
        if part not in parts:
            raise DataError(root, None, f"refused: the artifact was changed after training: part '{part}' of "
                            f"{where} (SHA-256 {digest} recorded at training) is missing from its {MLMODEL_FILE}")
        local = _download(f"{root}/{parts[part]}", folder / "parts" / part, where)
        actual = file_sha256(local)
        if actual != digest:
            raise DataError(f"{root}/{parts[part]}", None, f"refused: the artifact was changed after training: "
                            f"part '{part}' of {where} has SHA-256 {actual}, but {digest} was recorded at "
                            "training; restore the artifact store from a backup, or train and register again")
        files[part] = str(local)
    return files


def _download(uri: str, folder: Path, where: str) -> Path:
    """One artifact file into `folder` (a copy even from a local store: the store is only read)."""
    variable = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    setting = os.environ.get(variable)
    os.environ.setdefault(variable, "false")  # a bar per small file is noise in a scheduled run's log
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(folder)))
    except MlflowException as exc:
        raise DataError(uri, None, f"refused: a file of {where} cannot be read from the artifact store (missing "
                        f"or unreadable): {exc}") from exc
    finally:
        if setting is None:
            os.environ.pop(variable, None)


@dataclass(frozen=True)
class Registration:
    name: str
    version: str
    aliases: tuple[str, ...]
    registered: bool = True  # False: an existing version of the same training was kept instead


def register(model_uri: str, name: str, promote: bool, run_id: str, fingerprint: TrainingFingerprint
             ) -> Registration:
    """Register a logged model as a new version (alias `challenger`; `champion` too when `promote`), tagged with
    its fingerprint (`artifact_sha256.<part>`, training_data_hash, training_params_hash). Its stored files are
    checked against the fingerprint first: a changed one is a DataError and nothing is registered."""
    with tempfile.TemporaryDirectory(prefix="kap-model-") as folder:
        _checked_files(model_uri, fingerprint.artifact_sha256, Path(folder), f"logged model {model_uri}")
    client = MlflowClient()
    version_ = mlflow.register_model(model_uri, name, tags={"run_id": run_id, **fingerprint.tags()})
    client.set_registered_model_alias(name, CHALLENGER, version_.version)
    aliases = [CHALLENGER]
    if promote:
        client.set_registered_model_alias(name, CHAMPION, version_.version)
        aliases.append(CHAMPION)
    return Registration(name, str(version_.version), tuple(aliases))


def same_training_version(name: str, fingerprint: TrainingFingerprint) -> str | None:
    """The newest version of registered model `name` trained on the same data with the same params (equal
    training_data_hash and training_params_hash tags); None when there is none."""
    versions = MlflowClient().search_model_versions(f"tags.{DATA_HASH_TAG} = '{fingerprint.data_hash}'")
    same = [int(v.version) for v in versions
            if v.name == name and v.tags.get(PARAMS_HASH_TAG) == fingerprint.params_hash]
    return str(max(same)) if same else None


def keep_version(name: str, version: str, promote: bool) -> Registration:
    """An existing version instead of a new one: it becomes champion when `promote`; other aliases stay."""
    client = MlflowClient()
    if promote:
        client.set_registered_model_alias(name, CHAMPION, version)
    aliases = client.get_model_version(name, version).aliases
    return Registration(name, version, tuple(sorted(aliases)), registered=False)


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


def version_run_table(name: str, version: str, artifact_path: str) -> pd.DataFrame | None:
    """A CSV table logged by the run of a registered model version, read as data (None when the run has no
    such file, or the version was registered without a run)."""
    run = _version_run(name, version)
    if run is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = _download(f"runs:/{run.info.run_id}/{artifact_path}", Path(folder), f"model version {version}")
        except DataError:
            return None
        return pd.read_csv(path)


def version_uri(name: str, version: str) -> str:
    """Registry URI pinned to one version (so a moving alias cannot change a run half-way)."""
    return f"models:/{name}/{version}"
