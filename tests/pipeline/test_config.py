import pytest

from pipeline.config import find_project_root, params_from_dict
from pipeline.errors import ConfigError
from tests.conftest import small_params


def test_project_root_is_the_nearest_folder_with_params(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: 1\n", encoding="utf-8")
    notebooks = tmp_path / "notebooks" / "drafts"
    notebooks.mkdir(parents=True)
    assert find_project_root(notebooks) == tmp_path
    assert find_project_root(tmp_path) == tmp_path


def test_no_params_anywhere_up_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no params\.yaml"):
        find_project_root(tmp_path / "nowhere")


def test_negative_isotonic_pseudo_rows_is_a_config_error():
    with pytest.raises(ConfigError, match=r"calibration.isotonic_pseudo_rows must be >= 0, got -1"):
        params_from_dict(small_params(calibration={"isotonic_pseudo_rows": -1}))
