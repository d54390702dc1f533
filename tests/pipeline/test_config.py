import pytest

from pipeline.config import find_project_root


def test_project_root_is_the_nearest_folder_with_params(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: 1\n", encoding="utf-8")
    notebooks = tmp_path / "notebooks" / "drafts"
    notebooks.mkdir(parents=True)
    assert find_project_root(notebooks) == tmp_path
    assert find_project_root(tmp_path) == tmp_path


def test_no_params_anywhere_up_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no params\.yaml"):
        find_project_root(tmp_path / "nowhere")
