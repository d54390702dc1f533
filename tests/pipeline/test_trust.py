"""Trust in the registry: a version loads from its checked part files only, a changed artifact is refused, code
stored with the model never runs, a read-only artifact store serves; the fingerprints say "the same"."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from pipeline.common import tracking
from pipeline.common.config import MlflowConfig
from pipeline.common.errors import DataError, PipelineError
from pipeline.common.fingerprint import data_fingerprint, file_sha256, params_hash

NAME = "kap-trust"
MARKER = "stored-code-ran"


def _registered(model, frame: pd.DataFrame) -> tuple[str, Path]:
    """Log and register `model` in the project's store: its version and the folder of its stored files."""
    tracking.configure(MlflowConfig())
    with mlflow.start_run() as run:
        logged = tracking.log_model(model, frame.head(10))
    fingerprint = tracking.TrainingFingerprint(logged.artifact_sha256, "data", "params")
    version = tracking.register(logged.uri, NAME, True, run.info.run_id, fingerprint).version
    return version, Path(MlflowClient().get_model_version_download_uri(NAME, version))


def _stored_code(folder: Path) -> Path:
    [code] = folder.glob("*.py")  # the "model from code" file pyfunc loading runs
    return code


def _plant_marker(code: Path) -> Path:
    """Replace the stored code by a file that leaves a marker file (and fails) when it runs."""
    marker = Path.cwd() / MARKER
    code.write_text(f"open({str(marker)!r}, 'w').close()\nraise RuntimeError('stored code ran')\n", encoding="utf-8")
    return marker


def test_a_registered_version_loads_from_its_checked_files_and_scores_as_trained(project, tiny_model):
    project()
    model, frame = tiny_model
    version, _ = _registered(model, frame)
    loaded = tracking.load_version_model(NAME, version)
    pd.testing.assert_series_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.spec == model.spec and loaded.calibrator == model.calibrator
    pd.testing.assert_series_equal(tracking.load_model(f"models:/{NAME}/{version}").raw_score(frame),
                                   model.raw_score(frame))


@pytest.mark.parametrize(("part", "change"), [
    ("booster", lambda text: text.replace("num_leaves=", "num_leaves=1", 1)),
    ("calibrator", lambda text: text.replace("{", '{"tampered": 1, ', 1)),
])
def test_a_changed_artifact_is_refused_naming_the_part_the_version_and_both_hashes(project, tiny_model, part,
                                                                                    change):
    project()
    model, frame = tiny_model
    version, folder = _registered(model, frame)
    [stored] = (folder / "artifacts").glob(f"{part}.*")
    recorded = file_sha256(stored)
    stored.write_text(change(stored.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(DataError) as refused:
        tracking.load_version_model(NAME, version)
    message = str(refused.value)
    assert refused.value.exit_code == 2
    assert "refused: the artifact was changed after training" in message
    assert f"part '{part}' of model version {version} of '{NAME}'" in message
    assert recorded in message and file_sha256(stored) in message


def test_a_missing_part_and_a_part_moved_outside_the_model_are_refused(project, tiny_model):
    project()
    model, frame = tiny_model
    version, folder = _registered(model, frame)
    mlmodel = folder / "MLmodel"
    description = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    parts = description["flavors"]["python_function"]["artifacts"]
    parts["booster"]["path"] = "../../booster.txt"
    mlmodel.write_text(yaml.safe_dump(description), encoding="utf-8")
    with pytest.raises(DataError, match=r"refused: part\(s\) \['booster'\] point outside"):
        tracking.load_version_model(NAME, version)
    del parts["booster"]
    mlmodel.write_text(yaml.safe_dump(description), encoding="utf-8")
    with pytest.raises(DataError, match=f"part 'booster' of model version {version} .* is missing"):
        tracking.load_version_model(NAME, version)


def test_code_stored_with_the_model_never_runs_when_the_pipeline_loads_it(project, tiny_model):
    project()
    model, frame = tiny_model
    version, folder = _registered(model, frame)
    marker = _plant_marker(_stored_code(folder))
    loaded = tracking.load_version_model(NAME, version)
    pd.testing.assert_series_equal(loaded.predict(frame), model.predict(frame))
    tracking.save_model(model, frame.head(10), "saved-model")  # a stage's own model folder
    _plant_marker(_stored_code(Path("saved-model")))
    pd.testing.assert_series_equal(tracking.load_model("saved-model").predict(frame), model.predict(frame))
    assert not marker.exists()
    # what the README warns of: MLflow's pyfunc loading (serving) does run it
    with pytest.raises(Exception, match="stored code ran"):
        mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")
    assert marker.exists()


SCORE_FROM_THE_STORE = """
import sys
import pandas as pd
from pipeline.common import tracking
from pipeline.common.config import MlflowConfig
try:
    open("mlruns/probe", "w")
except OSError:
    pass
else:
    sys.exit("the artifact store is writable")
tracking.configure(MlflowConfig())
model = tracking.load_version_model(sys.argv[1], sys.argv[2])
model.predict(pd.read_parquet("frame.parquet")).to_frame().to_parquet("scored.parquet")
"""


def _with_read_only(store: Path, command: list[str]) -> list[str]:
    """`command` with `store` read-only: the folder's permissions for a user; for root, who writes through
    them, a read-only bind mount in its own mount namespace (skipped where that is not allowed)."""
    if os.geteuid() != 0:
        for path in [*store.rglob("*"), store]:
            path.chmod(path.stat().st_mode & ~0o222)
        return command
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], check=False).returncode:
        pytest.skip("root writes through permissions, and no mount namespace for a read-only mount")
    remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", remount, str(store.resolve()), *command]


def test_a_read_only_artifact_store_is_scored_from(project, tiny_model):
    project()
    model, frame = tiny_model
    version, _ = _registered(model, frame)
    frame.to_parquet("frame.parquet")
    store = Path("mlruns")
    before = sorted(store.rglob("*"))
    command = _with_read_only(store, [sys.executable, "-c", SCORE_FROM_THE_STORE, NAME, version])
    try:
        child = subprocess.run(command, capture_output=True, text=True, check=False,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    finally:
        for path in [store, *(p for p in before if p.is_dir())]:
            path.chmod(path.stat().st_mode | 0o200)
    assert child.returncode == 0, child.stderr
    np.testing.assert_allclose(pd.read_parquet("scored.parquet")["probability"], model.predict(frame))
    assert sorted(store.rglob("*")) == before  # nothing written into the store


def test_a_version_registered_without_hashes_is_not_loaded_and_says_what_to_do(project, tiny_model):
    project()
    model, frame = tiny_model
    tracking.configure(MlflowConfig())
    tracking.save_model(model, frame.head(10), "saved-model")
    MlflowClient().create_registered_model(NAME)
    old = MlflowClient().create_model_version(NAME, source=str(Path("saved-model").resolve()))
    with pytest.raises(PipelineError, match=r"carries no SHA-256 of its artifacts.*train and register again"):
        tracking.load_version_model(NAME, old.version)


def test_registering_a_logged_model_whose_files_changed_is_refused(project, tiny_model):
    project()
    model, frame = tiny_model
    tracking.configure(MlflowConfig())
    with mlflow.start_run() as run:
        logged = tracking.log_model(model, frame.head(10))
    changed = {**logged.artifact_sha256, "calibrator": "0" * 64}
    with pytest.raises(DataError, match=f"part 'calibrator' of logged model {logged.uri} has SHA-256"):
        tracking.register(logged.uri, NAME, True, run.info.run_id,
                          tracking.TrainingFingerprint(changed, "data", "params"))
    assert MlflowClient().search_model_versions(f"name = '{NAME}'") == []


def test_file_hash_streams_and_data_fingerprint_follows_names_and_bytes_not_order_or_folder(tmp_path):
    big = tmp_path / "a" / "features.parquet"
    big.parent.mkdir()
    content = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # several read chunks
    big.write_bytes(content)
    assert file_sha256(big) == hashlib.sha256(content).hexdigest()
    labels = tmp_path / "a" / "labels.parquet"
    labels.write_bytes(b"labels")
    fingerprint = data_fingerprint([big, labels])
    (tmp_path / "b").mkdir()
    copies = [tmp_path / "b" / path.name for path in (labels, big)]
    for source, copy in zip((labels, big), copies, strict=True):
        copy.write_bytes(source.read_bytes())
    assert data_fingerprint(copies) == fingerprint  # another folder, another order
    copies[0].write_bytes(b"labels!")
    assert data_fingerprint(copies) != fingerprint
    renamed = tmp_path / "b" / "other.parquet"
    copies[0].write_bytes(b"labels")
    copies[0].rename(renamed)
    assert data_fingerprint([renamed, copies[1]]) != fingerprint


def test_params_hash_is_canonical_json():
    settings = {"seed": 42, "model": {"learning_rate": 0.05, "num_leaves": 31}, "split": {"test_cutoff": None}}
    reordered = json.loads(json.dumps({"split": {"test_cutoff": None}, "model": {"num_leaves": 31,
                                                                               "learning_rate": 0.05}, "seed": 42}))
    assert params_hash(reordered) == params_hash(settings)
    assert params_hash(settings) == hashlib.sha256(json.dumps(settings, sort_keys=True, separators=(",", ":"))
                                                   .encode()).hexdigest()
    assert params_hash({**settings, "seed": 43}) != params_hash(settings)
    assert params_hash({**settings, "model": {"learning_rate": 0.05, "num_leaves": 32}}) != params_hash(settings)
