"""Benchmark: wall time and peak memory of every pipeline stage on the default demo.

Runs `kap <stage>` for each stage in a temporary project folder, `--repeats` times, and prints per stage
the median wall time, the peak resident memory of the stage's process, and its share of the total.

    python benchmarks/stages.py                 # default params.yaml (20,000 customers)
    python benchmarks/stages.py --customers 5000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline.cli import STAGES  # in pipeline order

REPO = Path(__file__).resolve().parents[1]


def run_stage(stage: str, folder: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `kap` stage process."""
    kap = Path(sys.executable).with_name("kap")
    start = time.perf_counter()
    process = subprocess.Popen([str(kap), stage], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {stage} failed:\n{process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=None, help="override demo.n_customers")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    if args.customers:
        params["demo"]["n_customers"] = args.customers
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    memory: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    for repeat in range(args.repeats):
        folder = Path(tempfile.mkdtemp(prefix="kap-bench-"))
        try:
            (folder / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
            for stage in STAGES:
                seconds, peak_mb = run_stage(stage, folder)
                times[stage].append(seconds)
                memory[stage] = max(memory[stage], peak_mb)
            print(f"run {repeat + 1}/{args.repeats}: {sum(t[-1] for t in times.values()):.1f} s", file=sys.stderr)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    medians = {s: statistics.median(t) for s, t in times.items()}
    total = sum(medians.values())
    print(f"demo: {params['demo']['n_customers']:,} customers, {params['demo']['years']} years; "
          f"{args.repeats} runs; {os.cpu_count()} CPUs")
    print(f"{'stage':<10} {'median s':>9} {'share':>7} {'peak RSS MB':>12}")
    for stage in STAGES:
        print(f"{stage:<10} {medians[stage]:>9.2f} {medians[stage] / total:>7.1%} {memory[stage]:>12.0f}")
    print(f"{'total':<10} {total:>9.2f}")


if __name__ == "__main__":
    main()
