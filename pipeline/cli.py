"""The `kap` command line: one command per pipeline stage, plus helpers for people.

Exit codes: 0 success, 2 bad input or usage (message names the file, column and example rows), 75 another
scoring run holds the lock (try again later), 1 any other failure. Messages go to stderr.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from pipeline.common.config import load_params
from pipeline.common.errors import PipelineError, UserInputError

app = typer.Typer(help="Key-account potential: find the small customers that will grow into key accounts.",
                  no_args_is_help=True, add_completion=False)
log = logging.getLogger("kap")

ParamsOption = Annotated[Path, typer.Option("--params", "-p", help="Path to params.yaml.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logging.")]

STAGES = {
    "demo-data": ("pipeline.demo_data", "Generate the built-in demo data (customers, transactions, ground truth)."),
    "validate": ("pipeline.validate", "Validate raw tables into typed, cleaned Parquet tables."),
    "features": ("pipeline.build_features", "Build point-in-time feature snapshots at every cutoff."),
    "labels": ("pipeline.build_labels", "Compute eligibility and key-account labels at every cutoff."),
    "train": ("pipeline.train", "Train LightGBM on the training cutoffs and log it to MLflow."),
    "evaluate": ("pipeline.evaluate", "Rolling-origin backtest of the model against the baselines."),
    "explain": ("pipeline.explain", "SHAP summary of the model on the test cutoff."),
    "model-card": ("pipeline.model_card", "Write the model card (data, label, metrics vs baselines, limits)."),
    "register": ("pipeline.register", "Register the model; promote it to champion if it passes the gate."),
    "score": ("pipeline.score", "Rank eligible customers at the as-of date with the champion model."),
}
# operations, not part of `run-all`: they read what scoring runs left behind
OPERATIONS = {
    "track-record": ("pipeline.track_record", "Evaluate every issued list whose horizon has passed against what "
                                              "happened (data.track_record_file)."),
}


def _guarded(action: Callable[[], None], verbose: bool) -> None:
    """Run `action`, turning known errors into messages and exit codes (a traceback only with --verbose)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    try:
        action()
    except (UserInputError, PipelineError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except Exception as exc:
        log.error("unexpected failure", exc_info=verbose)
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None


def run_stage(module_name: str, params_path: Path, verbose: bool) -> None:
    """Run one stage's `run(params)`, turning known errors into messages and exit codes."""
    _guarded(lambda: importlib.import_module(module_name).run(load_params(params_path)), verbose)


def _print_check(params_path: Path) -> None:
    from pipeline.check import check

    for line in check(load_params(params_path)):
        typer.echo(line)
    typer.echo("ok: the params, the data and the time plan fit")


def _register_stage(name: str, module_name: str, help_text: str) -> None:
    def command(params: ParamsOption = Path("params.yaml"), verbose: VerboseOption = False) -> None:
        run_stage(module_name, params, verbose)

    command.__doc__ = help_text
    app.command(name)(command)


for _name, (_module, _help) in (STAGES | OPERATIONS).items():
    if _name != "score":  # below, with the options of scheduled runs
        _register_stage(_name, _module, _help)


def _score_and_report(params_path: Path, wait_seconds: float | None) -> None:
    from pipeline.score import run

    manifest = run(load_params(params_path), wait_seconds=wait_seconds)
    summary = {key: manifest[key] for key in ("as_of", "model_version", "eligible_customers", "tiers", "run_dir")}
    typer.echo(json.dumps({"status": "ok", **summary}, sort_keys=True))


@app.command("score")
def score_command(
    params: ParamsOption = Path("params.yaml"),
    wait: Annotated[float | None, typer.Option("--wait", min=0, help="Seconds to wait for another scoring run "
                                               "to finish; default: exit 75 at once.")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Rank eligible customers at the as-of date with the champion model (a run folder under
    data.scores_dir/runs); prints one JSON line for schedulers. Exit 0 ok, 2 bad input, 75 another run holds
    the lock, 1 other failures."""
    _guarded(lambda: _score_and_report(params, wait), verbose)


@app.command("report")
def report_command(
    as_of: Annotated[str | None, typer.Option("--as-of", help="The run's as-of date, YYYY-MM-DD; default the "
                                              "latest run.")] = None,
    params: ParamsOption = Path("params.yaml"), verbose: VerboseOption = False,
) -> None:
    """Re-render a scoring run's sales page, data.scores_dir/runs/<as-of>/report.html."""
    from pipeline.report import run

    _guarded(lambda: typer.echo(run(load_params(params), as_of)), verbose)


@app.command("check")
def check_command(params: ParamsOption = Path("params.yaml"), verbose: VerboseOption = False) -> None:
    """In seconds, before any heavy work: params, files, the data's span, writable outputs and the time plan."""
    _guarded(lambda: _print_check(params), verbose)


@app.command("run-all")
def run_all(params: ParamsOption = Path("params.yaml"), verbose: VerboseOption = False) -> None:
    """`check`, then every stage in order without DVC (`dvc repro` skips the stages that are up to date)."""
    _guarded(lambda: _print_check(params), verbose)
    for module_name, _ in STAGES.values():
        run_stage(module_name, params, verbose)


@app.command("features-list")
def features_list(params: ParamsOption = Path("params.yaml")) -> None:
    """Print the feature catalogue (name, family, window, definition) as Markdown."""
    from features.catalogue import catalogue_markdown

    try:
        cfg = load_params(params).features
    except UserInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(catalogue_markdown(cfg.windows_days, cfg.families), nl=False)


@app.command("params-schema")
def params_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the schema to this file.")] = None,
) -> None:
    """Print the JSON schema of params files (for editors; `extends` allowed; keys optional for profiles)."""
    from pipeline.common.config import params_json_schema_text

    if output is None:
        typer.echo(params_json_schema_text(), nl=False)
    else:
        output.write_text(params_json_schema_text(), encoding="utf-8")


@app.command("init")
def init(
    files: Annotated[list[Path], typer.Argument(help="The exports: CSV/TSV (also gzip), Excel .xlsx or Parquet.",
                                                exists=True, dir_okay=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Profile to write; default "
                                                "configs/<folder of the exports>.yaml.")] = None,
    extends: Annotated[Path | None, typer.Option(help="Params the profile extends; default the project's "
                                                 "params.yaml.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing profile.")] = False,
    dayfirst: Annotated[bool | None, typer.Option("--dayfirst/--monthfirst", help="Dates such as 03/04/2024 "
                                                  "are day-first (3 April) or month-first.")] = None,
    decimal: Annotated[str | None, typer.Option(help="Decimal mark: '.' or ','.")] = None,
    thousands: Annotated[str | None, typer.Option(help="Thousands separator: none, ',', '.', ' ' or \"'\".")] = None,
    date_format: Annotated[str | None, typer.Option(help="One date format for every date column, e.g. "
                                                    "'%d.%m.%Y'.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of the CSV exports, e.g. latin-1.")] = None,
    column_map: Annotated[list[str] | None, typer.Option("--map", help="THEIRS=OURS: map a column by hand "
                                                         "(THEIRS= leaves it out); repeatable.")] = None,
) -> None:
    """Write a starter profile for your exports: formats, column mapping and a plan sized to the history."""
    from pipeline.common.config import find_project_root
    from pipeline.init import FormatChoice, InitRequest, init_profile

    def write_profile() -> None:
        nonlocal extends, output
        overrides = {}
        for item in column_map or []:
            theirs, sep, ours = item.partition("=")
            if not sep:
                raise UserInputError(f"--map {item!r}: write THEIRS=OURS (or THEIRS= to leave a column out)")
            overrides[theirs] = ours.strip() or None
        if decimal not in (None, ".", ","):
            raise UserInputError(f"--decimal must be '.' or ',', got {decimal!r}")
        if thousands not in (None, "none", ",", ".", " ", "'"):
            raise UserInputError(f"--thousands must be none, ',', '.', ' ' or \"'\", got {thousands!r}")
        if extends is None:
            try:
                extends = find_project_root(Path.cwd()) / "params.yaml"
            except FileNotFoundError:
                raise UserInputError("no params.yaml in this folder or above: run from the project folder or "
                                     "pass --extends") from None
        output = output or Path("configs") / f"{files[0].resolve().parent.name}.yaml"
        choice = FormatChoice(dayfirst, decimal, thousands, date_format, encoding)
        result = init_profile(InitRequest(tuple(files), output, extends, force, choice, overrides))
        for line in result.summary:
            typer.echo(line)
        for path, rows in result.preview.items():
            typer.echo(f"\nfirst rows of {path} as the pipeline reads them:\n{rows.to_string(max_colwidth=40)}")
        typer.echo(f"\nwrote {result.profile}; check it, then: kap run-all --params {result.profile}")

    _guarded(write_profile, verbose=False)
