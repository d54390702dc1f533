"""dvc.yaml and the stage modules: each stage stands alone, so its deps are its module and shared folders."""

import ast
from pathlib import Path

import yaml

from pipeline.cli import STAGES

REPO = Path(__file__).resolve().parents[2]
STAGE_MODULES = {module for module, _ in STAGES.values()}


def _stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def test_no_stage_module_imports_another_stage():
    shared = [REPO.joinpath(*module.split(".")).with_suffix(".py") for module in STAGE_MODULES]
    shared += sorted((REPO / "pipeline" / "common").glob("*.py"))
    offending = {path.relative_to(REPO).as_posix(): sorted((_imported_modules(path) & STAGE_MODULES) - {module})
                 for path, module in ((p, ".".join(p.relative_to(REPO).with_suffix("").parts)) for p in shared)}
    assert {path: stages for path, stages in offending.items() if stages} == {}


def test_every_stage_depends_on_its_own_module_and_the_shared_code():
    stages = _stages()
    for name, (module, _) in STAGES.items():
        deps = stages[name]["deps"]
        assert f"{module.replace('.', '/')}.py" in deps, name
        assert "pipeline/common" in deps, name
        library_files = [d for d in deps if d.endswith(".py") and d.startswith(("pipeline/common", "demo", "models"))]
        assert library_files == [], name


def test_outputs_outside_the_dvc_cache_persist_so_a_failed_run_keeps_them():
    uncached = {(name, path): flags for name, stage in _stages().items() for kind in ("outs", "metrics", "plots")
                for entry in stage.get(kind, []) if isinstance(entry, dict) for path, flags in entry.items()
                if flags.get("cache") is False}
    assert ("evaluate", "${data.metrics_file}") in uncached
    assert [output for output, flags in uncached.items() if not flags.get("persist")] == []
