"""dvc.yaml stays in step with the code: a stage depends on every project module it runs."""

import ast
from pathlib import Path

import yaml

from pipeline.cli import STAGES

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("features", "models", "pipeline")


def _module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_modules(module: str) -> set[str]:
    """Repository paths of `module` and every project module it imports, directly or not."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        path = _module_file(pending.pop())
        if path is None or path.name == "__init__.py" or path.relative_to(REPO).as_posix() in seen:
            continue
        seen.add(path.relative_to(REPO).as_posix())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            pending += [name for name in names if name.split(".")[0] in PACKAGES]
    return seen


def test_every_stage_depends_on_the_modules_it_runs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert set(stages) == set(STAGES)
    missing = {}
    for name, (module, _) in STAGES.items():
        deps = {d for d in stages[name].get("deps", []) if not d.startswith("${")}
        if absent := sorted(project_modules(module) - deps):
            missing[name] = absent
    assert not missing, f"dvc.yaml stage deps lack the modules they run: {missing}"


def test_module_walk_follows_imports_across_packages():
    modules = project_modules("pipeline.train")
    assert {"pipeline/train.py", "models/estimator.py", "pipeline/config.py", "features/catalogue.py"} <= modules
    assert "pipeline/cli.py" not in modules


def test_outputs_outside_the_dvc_cache_persist_so_a_failed_run_keeps_them():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    uncached = {(name, path): flags for name, stage in stages.items() for kind in ("outs", "metrics", "plots")
                for entry in stage.get(kind, []) if isinstance(entry, dict) for path, flags in entry.items()
                if flags.get("cache") is False}
    assert ("evaluate", "${data.metrics_file}") in uncached
    assert [output for output, flags in uncached.items() if not flags.get("persist")] == []
