"""Compare candidate settings on validation cutoffs only: how the defaults are chosen (docs/experiments.md).

For each backtest fold of a profile (the folds `kap evaluate` runs), the fold's split is taken as training
takes it, and each candidate is fitted on the fold's training cutoffs and early-stopped on its validation
cutoff; the table reports the validation average precision per fold, its mean, and each candidate's mean
difference to the first (the reference). The test cutoffs' outcomes are never read, so a choice made here
does not flatter the backtest. Early stopping picks its rounds on the same validation rows, which favours
every candidate alike.

A candidate is `name:key=value;key=value` with dotted params keys and YAML values, e.g.
    python experiments/validation_sweep.py --params configs/online_retail_ii.yaml \
        --candidate "profile:" --candidate "no prior:model.prior_features=[]" --seeds 42,43
The profile's features and labels must have been built (`kap features`, `kap labels`).
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd
import yaml

from pipeline.common.adapters import split_of
from pipeline.common.artifacts import load_panel
from pipeline.common.config import Params, load_params, params_with
from pipeline.common.fitting import backtest_test_cutoffs, fit_model_for, hyperparameters_of


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """`name:key=value;key=value` as its name and {dotted key: YAML value}."""
    name, _, settings = text.partition(":")
    overrides = {}
    for item in filter(None, (part.strip() for part in settings.split(";"))):
        key, _, value = item.partition("=")
        overrides[key.strip()] = yaml.safe_load(value)
    return name, overrides


def validation_scores(params: Params, panel: pd.DataFrame, seeds: list[int]) -> list[float]:
    """Validation average precision of each backtest fold (mean over `seeds`)."""
    cutoffs = sorted(pd.to_datetime(panel["cutoff"].unique()))
    last = split_of(params, panel).test
    scores = []
    for test_cutoff in backtest_test_cutoffs(params, cutoffs, last):
        split = split_of(params, panel, test_cutoff)
        reports = [fit_model_for(params_with(params, {"seed": seed}), panel, split, hyperparameters_of(params))[1]
                   for seed in seeds]
        per_seed = [report.training.validation_average_precision for report in reports]
        scores.append(sum(per_seed) / len(per_seed))
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--candidate", action="append", required=True, help="name:key=value;key=value")
    parser.add_argument("--seeds", default="42", help="comma-separated LightGBM seeds, averaged")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    panel = load_panel(params)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for text in args.candidate:
        name, overrides = parse_candidate(text)
        scores = validation_scores(params_with(params, overrides), panel, seeds)
        rows.append({"candidate": name, **{f"fold_{i + 1}": s for i, s in enumerate(scores)},
                     "mean": sum(scores) / len(scores)})
        print(f"{name}: " + " / ".join(f"{s:.4f}" for s in scores) + f"  mean {rows[-1]['mean']:.4f}", flush=True)
    table = pd.DataFrame(rows)
    table["vs_first"] = table["mean"] - table["mean"].iloc[0]
    print(f"\nvalidation average precision, {args.params}, seeds {args.seeds}")
    print(table.to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()
