"""Benchmark: single-node LightGBM training time and peak memory against the feature table's rows.

Training reads the feature table (one row per customer and cutoff), not the lines, so it stays on one machine
when the features are built on Spark. Each size is trained in a fresh process (peak RSS from `os.wait4`): a
seeded synthetic table of params.yaml's feature count (numeric columns with missing values, 4 categorical),
a rare label (~3 %) that depends on a few columns, `refit_classifier` with params.yaml's model hyperparameters
for a fixed number of rounds (no early stopping: the same work per row at every size).

    .venv/bin/python benchmarks/training.py                                # 100k, 400k, 1.6M rows, 100 rounds
    .venv/bin/python benchmarks/training.py --rows 4000000 --rounds 500     # a larger table, more rounds
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N_NUMERIC, N_CATEGORICAL = 65, 4  # as the default catalogue: 69 features, 4 of them categorical
HYPERPARAMETERS = ("learning_rate", "num_leaves", "min_child_samples", "subsample", "subsample_freq",
                   "colsample_bytree", "reg_lambda", "n_jobs")


def table(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A synthetic feature table and its label."""
    rng = np.random.default_rng(seed)
    numeric = rng.lognormal(0, 1, (rows, N_NUMERIC)).astype("float64")
    numeric[rng.random((rows, N_NUMERIC)) < 0.1] = np.nan
    X = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(N_NUMERIC)])
    for i in range(N_CATEGORICAL):
        X[f"c{i}"] = pd.Categorical(rng.integers(0, 12, rows).astype(str))
    logit = -4 + 0.6 * np.log(np.nan_to_num(numeric[:, 0], nan=1.0)) + 0.4 * np.nan_to_num(numeric[:, 1])
    return X, pd.Series(rng.random(rows) < 1 / (1 + np.exp(-logit)))


def child(rows: int, rounds: int, seed: int) -> None:
    """One training run in this (fresh) process; prints a JSON line with its figures."""
    sys.path.insert(0, str(REPO))
    from models.estimator import refit_classifier

    model = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["model"]
    X, y = table(rows, seed)
    start, cpu = time.perf_counter(), time.process_time()
    refit_classifier(X, y, {key: model[key] for key in HYPERPARAMETERS}, rounds, seed)
    figures = {"rows": rows, "train_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
               "positives": float(y.mean()), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,400000,1600000", help="comma-separated feature-table rows")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds at every size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds, args.seed)
        return
    print(f"CPUs {os.cpu_count()}, {N_NUMERIC + N_CATEGORICAL} features, {args.rounds} rounds, load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'feature rows':>12} {'train s':>8} {'CPU s':>7} {'s per M rows':>12} {'peak RSS MB':>11} "
          f"{'MB per M rows':>13}")
    for rows in sorted(int(r) for r in args.rows.split(",") if r.strip()):
        command = [sys.executable, str(Path(__file__).resolve()), "--child", str(rows), "--rounds", str(args.rounds),
                   "--seed", str(args.seed)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
        text = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"training run at {rows:,} rows failed")
        figures = json.loads(text.strip().splitlines()[-1])
        peak = usage.ru_maxrss / 1024
        print(f"{rows:>12,} {figures['train_s']:>8.1f} {figures['cpu_s']:>7.1f} "
              f"{figures['train_s'] / (rows / 1e6):>12.1f} {peak:>11,.0f} {peak / (rows / 1e6):>13,.0f}  "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
