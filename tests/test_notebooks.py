"""Every notebook under notebooks/ runs top to bottom on a small demo and draws its plots.

The kernel must be this interpreter (the project's venv), whatever kernelspecs the machine has: if the
`python3` kernelspec Jupyter finds would start another Python, the test points JUPYTER_PATH at a temporary
kernelspec for `sys.executable`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from tests.conftest import small_params

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "python3"
# Notebooks that read pipeline outputs, and the stages that make them (on a small demo in a temporary folder).
READS_PIPELINE_OUTPUTS = {"02-model-report.ipynb", "03-oracle-gap.ipynb"}
REPORT_STAGES = ("demo-data", "validate", "features", "labels", "train", "evaluate", "explain", "model-card")
# Kernelspec commands jupyter_client itself replaces with sys.executable (KernelManager.format_kernel_cmd).
_SELF_PYTHON = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}


def _kernel_runs_this_python() -> bool:
    """Whether the `python3` kernelspec Jupyter resolves now would start `sys.executable`."""
    try:
        argv = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv
    except NoSuchKernel:
        return False
    if not argv:
        return False
    return argv[0] in _SELF_PYTHON or Path(argv[0]).absolute() == Path(sys.executable).absolute()


@pytest.fixture
def notebook_env(tmp_path, monkeypatch):
    """Small demo, inline plots, isolated IPython profile and a `python3` kernel on this interpreter."""
    monkeypatch.setenv("KAP_NOTEBOOK_CUSTOMERS", "1500")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # e.g. Agg in CI would suppress the inline images
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no user startup files or profiles
    if not _kernel_runs_this_python():
        spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (test)",
            "language": "python",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched before user and env paths
    assert _kernel_runs_this_python(), "could not make the python3 kernel use the test interpreter"


@pytest.fixture(scope="module")
def small_pipeline_run(tmp_path_factory) -> Path:
    """A project folder with the outputs of the report stages on a 1,500-customer demo."""
    folder = tmp_path_factory.mktemp("pipeline")
    params = small_params(demo={"n_customers": 1500}, evaluate={"shap_sample": 300, "backtest_folds": 2,
                                                                     "bootstrap_resamples": 200},
                          model={"n_jobs": 1})  # one core per xdist worker: LightGBM's OpenMP threads spin-wait
    (folder / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    for stage in REPORT_STAGES:
        completed = subprocess.run([sys.executable, "-m", "pipeline", stage], cwd=folder, env=env,
                                   capture_output=True, text=True, check=False)
        assert completed.returncode == 0, f"kap {stage}: {completed.stderr[-3000:]}"
    return folder


def _image_outputs(nb: nbformat.NotebookNode) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result") and "image/png" in output.get("data", {})
    )


def test_notebook_folder_is_not_empty():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_saved_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL_NAME
    with_outputs = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.get("outputs")]
    assert not with_outputs, f"{path.name}: clear the outputs of cells {with_outputs} before saving"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_plots(path, notebook_env, request, monkeypatch):
    if path.name in READS_PIPELINE_OUTPUTS:
        monkeypatch.setenv("KAP_PROJECT_DIR", str(request.getfixturevalue("small_pipeline_run")))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=300, resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    client.execute()  # raises CellExecutionError (with the failing cell and traceback) on any error
    assert _image_outputs(nb) > 0, f"{path.name} produced no plot"
