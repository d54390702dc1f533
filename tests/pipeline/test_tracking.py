"""MLflow: the logged model serves probabilities from raw feature frames; aliases follow the gate; a model folder
loads from its part files."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from scipy.special import expit

from models.combined import PRIOR_PART, KeyAccountModel
from models.estimator import LogisticPrior
from models.spec import SpecMismatchError
from pipeline.common import tracking
from pipeline.common.config import MlflowConfig


def _logged_in_a_run(model: KeyAccountModel, frame: pd.DataFrame) -> tuple[tracking.StoredModel, str]:
    """Log `model` in a new run of the project's store: the logged model and the run id."""
    tracking.configure(MlflowConfig())
    with mlflow.start_run() as run:
        return tracking.log_model(model, frame.head(10)), run.info.run_id


def _fingerprint(logged: tracking.StoredModel, data: str = "data") -> tracking.TrainingFingerprint:
    return tracking.TrainingFingerprint(logged.artifact_sha256, data, "params")


def test_logged_model_predicts_calibrated_probabilities_from_raw_features(project, tiny_model):
    project()
    model, frame = tiny_model
    logged, run_id = _logged_in_a_run(model, frame)
    served = mlflow.pyfunc.load_model(logged.uri).predict(frame.head(50))
    raw = model.booster.predict(model.spec.conform(frame.head(50)))
    expected = model.calibrator.transform(raw)
    assert not np.allclose(expected, raw)  # the calibrator is part of the served model
    np.testing.assert_allclose(np.asarray(served).ravel(), expected)
    tags = MlflowClient().get_run(run_id).data.tags
    assert {part: tags[f"artifact_sha256.{part}"] for part in logged.artifact_sha256} == logged.artifact_sha256
    assert set(logged.artifact_sha256) == set(model.write_files(Path.cwd()))
    tracking.save_model(model, frame.head(10), "saved-model")
    loaded = tracking.load_model("saved-model")
    assert isinstance(loaded, KeyAccountModel)  # the plain model, not MLflow's wrapper
    assert loaded.spec == model.spec and loaded.calibrator == model.calibrator
    with pytest.raises(SpecMismatchError, match="spend"):
        loaded.predict(frame.drop(columns="spend"))


def test_champion_moves_only_through_the_gate(project, tiny_model):
    project()
    model, frame = tiny_model
    logged, run_id = _logged_in_a_run(model, frame)
    first = tracking.register(logged.uri, "kap-test", True, run_id, _fingerprint(logged))
    second = tracking.register(logged.uri, "kap-test", False, run_id, _fingerprint(logged))
    assert tracking.alias_version("kap-test", "champion") == first.version
    assert tracking.alias_version("kap-test", "challenger") == second.version
    with pytest.raises(tracking.PipelineError, match="no-alias"):
        tracking.alias_version("kap-test", "no-alias")
    assert tracking.find_alias_version("kap-test", "no-alias") is None
    assert tracking.find_alias_version("no-such-model", "champion") is None


def test_a_registered_versions_run_tag_is_read_back(project, tiny_model):
    project()
    model, frame = tiny_model
    logged, run_id = _logged_in_a_run(model, frame)
    MlflowClient().set_tag(run_id, tracking.TRACK_RECORD_TAG, "98 of 100")
    version = tracking.register(logged.uri, "kap-test", True, run_id, _fingerprint(logged)).version
    assert tracking.version_run_tag("kap-test", version, tracking.TRACK_RECORD_TAG) == "98 of 100"
    assert tracking.version_run_tag("kap-test", version, "no-such-tag") is None
    tracking.save_model(model, frame.head(10), "saved-model")  # a model folder, registered outside any run
    without_run = MlflowClient().create_model_version("kap-test", source=str(Path("saved-model").resolve()))
    assert tracking.version_run_tag("kap-test", without_run.version, tracking.TRACK_RECORD_TAG) is None


def test_each_project_folder_keeps_its_own_store_in_one_process(tmp_path, monkeypatch):
    """MLflow caches stores by URI string: a relative SQLite URI must not follow the first folder opened."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        tracking.configure(MlflowConfig(experiment=f"only-in-{name}"))
        assert {e.name for e in mlflow.search_experiments()} == {"Default", f"only-in-{name}"}
        assert (tmp_path / name / "mlflow.db").exists()


def test_logged_model_boosts_from_its_prior_and_older_models_load_without_one(project, tiny_model, tmp_path):
    project()
    plain, frame = tiny_model
    label = pd.Series(np.random.default_rng(2).random(len(frame)) < frame["spend"] / frame["spend"].max())
    prior = LogisticPrior.fit(plain.spec.conform(frame), label, ("spend",))
    model = KeyAccountModel(plain.booster, plain.spec, plain.calibrator, prior)
    X = model.spec.conform(frame.head(50))
    expected = model.calibrator.transform(expit(model.booster.predict(X, raw_score=True) + prior.log_odds(X)))
    logged, run_id = _logged_in_a_run(model, frame)
    np.testing.assert_allclose(np.asarray(mlflow.pyfunc.load_model(logged.uri).predict(frame.head(50))).ravel(),
                               expected)
    version = tracking.register(logged.uri, "kap-test", True, run_id, _fingerprint(logged)).version
    assert tracking.load_version_model("kap-test", version).prior == prior
    # a model logged before priors existed: no prior artifact
    arguments = tracking._model_arguments(plain, frame.head(10), tmp_path)
    del arguments["artifacts"][PRIOR_PART]
    mlflow.pyfunc.save_model(str(tmp_path / "older"), **arguments)
    older = tracking.load_model(str(tmp_path / "older"))
    assert older.prior is None
    pd.testing.assert_series_equal(older.raw_score(frame), plain.raw_score(frame))


def test_a_corrupt_store_is_refused_naming_the_file(project):
    project()
    Path("mlflow.db").write_bytes(b"\x00garbage" * 50)
    with pytest.raises(tracking.DataError, match=r"mlflow.db.*not an SQLite database.*move it aside"):
        tracking.configure(MlflowConfig())
