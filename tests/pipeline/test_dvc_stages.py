"""dvc.yaml and the stage modules: each stage stands alone, so its deps are its module and shared folders."""

from pathlib import Path

import yaml

from pipeline.cli import STAGES

REPO = Path(__file__).resolve().parents[2]


def _stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def test_every_stage_depends_on_its_own_module_and_the_shared_code():
    stages = _stages()
    for name, (module, _) in STAGES.items():
        deps = stages[name]["deps"]
        assert f"{module.replace('.', '/')}.py" in deps, name
        assert "pipeline/common" in deps, name
        assert not [d for d in deps if d.endswith(".py") and d.startswith(("pipeline/common", "features", "models"))]


def test_outputs_outside_the_dvc_cache_persist_so_a_failed_run_keeps_them():
    uncached = {(name, path): flags for name, stage in _stages().items() for kind in ("outs", "metrics", "plots")
                for entry in stage.get(kind, []) if isinstance(entry, dict) for path, flags in entry.items()
                if flags.get("cache") is False}
    assert ("evaluate", "${data.metrics_file}") in uncached
    assert [output for output, flags in uncached.items() if not flags.get("persist")] == []
