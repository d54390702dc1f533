"""Benchmark: the DuckDB feature builder (`features.builder.build_features`) on large synthetic tables.

Generates (once, cached) a seeded synthetic invoice-line table in Parquet, then times, each run in a fresh
subprocess (so the peak resident memory reported by `os.wait4` belongs to that run alone):

* `build_features` reading the transactions Parquet itself, restricted to the core families (spend, orders,
  order, recency, tenure, categories, returns: the 35 features the pandas reference computes too),
  for a spine of every customer seen before each of 12 monthly cutoffs (2023-01-01 .. 2023-12-01) and for
  one cutoff (2023-12-01), `--repeats` runs;
* the same at 12 cutoffs for the `--scaling-rows` sizes (customers in proportion) to show linearity;
* the full feature library (every family) at 12 cutoffs, one run, as extra information;
* the straightforward pandas implementation in `benchmarks/pandas_reference.py` at 12 cutoffs (one run),
  which reads the Parquet into pandas itself, and checks that both agree on the core feature columns
  (rtol 1e-9, atol 1e-8; max abs difference per column); disagreement exits with status 1.

Like with like: the ratio "pandas / this" compares read + build of the same 35 features from the same Parquet
file for the same spine.

Figures are printed, then each target of the feature library (>= 10x the pandas reference, peak RSS <= 2 GB,
12 cutoffs <= 2x one, linear in lines) as met or MISSED; nothing is asserted about timings. A run that exceeds
`--timeout` seconds or `--max-rss-gb` resident memory is killed and reported as such (exit status 2 at the
end); if that happens to the main size's 12-cutoff run, the pandas comparison and the 1-cutoff ratio are done
at the largest size that completed. Each run prints its build CPU seconds (all threads), the load average and
a hash of the features package's code, because wall times on a shared machine and code under active editing
need both.

    .venv/bin/python benchmarks/features.py --quick          # smoke run: 200k lines, 2k customers, seconds
    .venv/bin/python benchmarks/features.py                  # 20M lines, 200k customers, 3 repeats
    .venv/bin/python benchmarks/features.py --rows 5000000 --customers 50000 \\
        --scaling-rows 1000000,2500000,5000000 --repeats 5
    .venv/bin/python benchmarks/features.py --data-dir /data/kap-bench --skip-reference
    .venv/bin/python benchmarks/features.py --engine spark --spark-rows 5000000,20000000   # DuckDB vs Spark

With `--engine spark` it times, at each `--spark-rows` size (customers in proportion to --rows/--customers), the
core families at 12 cutoffs with DuckDB and with `features.spark.build_features_spark` on a local[2] session
(session start and the workers' first imports timed apart), checks that both give the same features, and prints
the ratio, its targets as met or MISSED, and a paper estimate for 1 billion lines on a 64-core cluster from the
measured cost per bucket.

Data (2020-01-01 .. 2023-12-31, `--seed`): heavy-tailed activity (Lomax weights, a few customers hold a
large share of the lines), customers arriving over the period with exponential lifetimes, ~15 % of the
lines in multi-line invoices, 24 categories with a per-customer preference, ~3 % negative lines (credit
notes "CN..."), days_to_pay (NaN on credit notes and ~5 % of invoices). Cached under
`<data-dir>/rows<R>_customers<C>_seed<S>/` as transactions.parquet (row groups of 1M lines),
customers.parquet and first_seen.parquet (used only to build the spines, outside the timed part).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "kap-bench-features"
PERIOD_START = np.datetime64("2020-01-01T00:00:00", "us")
PERIOD_DAYS = 4 * 365 + 1  # 2020-01-01 .. 2023-12-31
CUTOFFS = {
    12: [pd.Timestamp(f"2023-{month:02d}-01") for month in range(1, 13)],
    1: [pd.Timestamp("2023-12-01")],
}
N_CATEGORIES = 24
CREDIT_NOTE_SHARE = 0.03
JOIN_PREVIOUS = 0.08  # chance a line joins the previous line's invoice: ~15 % of lines in multi-line invoices
ROW_GROUP = 1_000_000
RTOL, ATOL = 1e-9, 1e-8  # ATOL as pandas' assert_frame_equal default, for sums that net to ~0
SPARK_CORES = 2  # local[2]: the cores DuckDB gets too
LINES_PER_BUCKET = 2_000_000  # as params.yaml's features.spark.lines_per_bucket
CLUSTER_LINES, CLUSTER_CORES = 1_000_000_000, 64  # the paper estimate: 1 billion lines on 64 executor cores
# Spark's targets: local[2] within 3x DuckDB on the same cores (the price of the engine on one machine), and
# 1 billion lines within an hour on CLUSTER_CORES cores (estimated from the measured cost per bucket)
TARGET_SPARK_OVERHEAD, TARGET_CLUSTER_S = 3.0, 3600.0
# the feature library's targets: speed-up over pandas, peak RSS, 12 cutoffs vs 1, max / min cost per line
TARGET_SPEEDUP, TARGET_PEAK_MB, TARGET_CUTOFF_COST, LINEAR_SPREAD = 10.0, 2000.0, 2.0, 1.25


# --------------------------------------------------------------------------------------------- data


def _labels(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Vectorised "<prefix><zero-padded number>" strings."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def generate(folder: Path, rows: int, customers: int, seed: int) -> None:
    """Write transactions, customers and first_seen Parquet files into `folder` (atomically)."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    # customers: heavy-tailed activity, arrival over the period (some before it), exponential lifetimes (days)
    weight = rng.pareto(1.3, customers) + 0.05
    counts = rng.multinomial(rows, weight / weight.sum())
    arrival = np.clip(rng.uniform(-365, PERIOD_DAYS - 30, customers), 0, None)
    leave = np.minimum(arrival + 30 + rng.exponential(3 * 365, customers), PERIOD_DAYS)
    order_scale = rng.lognormal(4.5, 0.8, customers)
    favourite = rng.integers(0, N_CATEGORIES, customers)
    breadth = 1 + rng.poisson(3, customers)

    # lines, grouped by customer, in time order within the customer
    cust = np.repeat(np.arange(customers, dtype=np.int64), counts)
    span = (leave - arrival)[cust]
    seconds = ((arrival[cust] + rng.random(rows) * span) * 86_400).astype(np.int64)
    order = np.argsort(cust * (1 << 27) + seconds)  # seconds < 2**27
    seconds = seconds[order]  # cust is already sorted, so only the times move
    credit = rng.random(rows) < CREDIT_NOTE_SHARE
    same_customer = np.r_[False, cust[1:] == cust[:-1]]
    joins = (rng.random(rows) < JOIN_PREVIOUS) & same_customer & ~credit & ~np.r_[False, credit[:-1]]
    head = np.maximum.accumulate(np.where(joins, 0, np.arange(rows)))
    seconds = seconds[head]  # lines of one invoice share its timestamp
    invoice_no = np.cumsum(~joins) - 1

    category = (favourite[cust] + (rng.random(rows) * breadth[cust]).astype(np.int64)) % N_CATEGORIES
    value = np.maximum(np.round(rng.lognormal(np.log(order_scale[cust]), 0.9), 2), 0.01)
    amount = np.where(credit, -np.maximum(np.round(value * rng.uniform(0.1, 1.0, rows), 2), 0.01), value)
    days_to_pay = np.round(rng.gamma(2.0, 15.0, rows))
    days_to_pay[credit | (rng.random(rows) < 0.05)] = np.nan

    first_line = np.r_[0, np.cumsum(counts)[:-1]]
    seen = counts > 0
    customer_ids = _labels("C", np.arange(customers), 7)
    by_time = np.argsort(seconds, kind="stable")
    names = pa.array([f"category_{i:02d}" for i in range(N_CATEGORIES)])
    prefix = pc.if_else(pa.array(credit[by_time]), "CN", "INV")
    timestamps = PERIOD_START + seconds[by_time].astype("timedelta64[s]").astype("timedelta64[us]")
    transactions = pa.table(
        {
            "customer_id": pc.take(customer_ids, pa.array(cust[by_time])),
            "invoice_id": pc.binary_join_element_wise(
                prefix, pc.utf8_lpad(pc.cast(pa.array(invoice_no[by_time]), pa.string()), 10, "0"), ""
            ),
            "timestamp": pa.array(timestamps, pa.timestamp("us")),
            "category": pc.take(names, pa.array(category[by_time])),
            "amount": pa.array(amount[by_time]),
            "days_to_pay": pa.array(days_to_pay[by_time], from_pandas=True),  # NaN -> null
        }
    )
    first_seen = pa.table(
        {
            "customer_id": pc.filter(customer_ids, pa.array(seen)),
            "first_seen": pa.array(PERIOD_START + seconds[first_line[seen]].astype("timedelta64[s]"),
                                   pa.timestamp("us")),
        }
    )
    industries = np.array(["Manufacturing", "Wholesale", "Retail", "Construction", "Healthcare", "Hospitality",
                           "Logistics", "IT Services", "Education", "Public Sector", "Agriculture", "Automotive"])
    countries = np.array(["Germany", "Austria", "France", "United Kingdom", "Netherlands", "Spain", "Italy",
                          "Poland", "Sweden"])
    regions = np.array(["DACH", "DACH", "Western Europe", "UK & Ireland", "Benelux", "Southern Europe",
                        "Southern Europe", "CEE", "Nordics"])
    ratings = np.array(["AAA", "AA", "A", "BBB", "BB", "B", "CCC"])
    channels = np.array(["Field sales", "Inside sales", "Web shop", "Partner", "Trade fair"])
    country = rng.integers(0, len(countries), customers)
    employees = np.maximum(rng.lognormal(3.5, 1.3, customers).astype(np.int64), 1)
    customers_table = pd.DataFrame(
        {
            "customer_id": pd.Series(customer_ids.to_pylist(), dtype="str"),
            "industry": industries[rng.integers(0, len(industries), customers)],
            "country": countries[country],
            "region": regions[country],
            "employees": employees,
            "annual_revenue": np.round(employees * rng.lognormal(np.log(150_000), 0.5, customers), -3),
            "founded_year": rng.integers(1900, 2023, customers),
            "credit_rating": ratings[rng.choice(len(ratings), customers, p=[.04, .09, .18, .30, .22, .12, .05])],
            "acquisition_channel": channels[rng.integers(0, len(channels), customers)],
        }
    )

    staging = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    pq.write_table(transactions, staging / "transactions.parquet", row_group_size=ROW_GROUP)
    pq.write_table(first_seen, staging / "first_seen.parquet")
    customers_table.to_parquet(staging / "customers.parquet", index=False)
    seconds_taken = time.perf_counter() - start
    meta = {"rows": rows, "customers": customers, "seed": seed, "generation_s": round(seconds_taken, 1),
            "customers_with_lines": int(seen.sum()), "max_lines_one_customer": int(counts.max()),
            "multi_line_invoice_share": float(np.mean(joins | np.r_[joins[1:], False])),
            "credit_line_share": float(credit.mean())}
    (staging / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def dataset(root: Path, rows: int, customers: int, seed: int) -> Path:
    """Folder with the data of this size, generated unless already cached."""
    folder = root / f"rows{rows}_customers{customers}_seed{seed}"
    if not (folder / "meta.json").exists():
        print(f"generating {rows:,} lines for {customers:,} customers in {folder} ...", flush=True)
        generate(folder, rows, customers, seed)
        state = "generated"
    else:
        state = "cached"
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    size_mb = (folder / "transactions.parquet").stat().st_size / 2**20
    print(f"data {state}: {rows:,} lines, {customers:,} customers ({meta['customers_with_lines']:,} with lines; "
          f"largest customer {meta['max_lines_one_customer']:,} lines), "
          f"{meta['multi_line_invoice_share']:.1%} of lines in multi-line invoices, "
          f"{meta['credit_line_share']:.1%} credit lines, Parquet {size_mb:,.0f} MB, "
          f"generation {meta['generation_s']} s", flush=True)
    return folder


def spine_for(folder: Path, cutoffs: list[pd.Timestamp]) -> pd.DataFrame:
    """Every customer with a line before each cutoff (as features.spine.customers_seen_before)."""
    first_seen = pd.read_parquet(folder / "first_seen.parquet")
    parts = [
        pd.DataFrame({"customer_id": first_seen.loc[first_seen["first_seen"] < c, "customer_id"], "cutoff": c})
        for c in cutoffs
    ]
    spine = pd.concat(parts, ignore_index=True)
    spine["customer_id"] = spine["customer_id"].astype("str")
    spine["cutoff"] = spine["cutoff"].astype("datetime64[us]")
    return spine


# --------------------------------------------------------------------------------------------- child


def child(kind: str, folder: Path, n_cutoffs: int, out: str | None) -> None:
    """One timed run in this (fresh) process; prints a JSON line with its figures. `read_s` is the time to
    read the inputs into pandas: for the builder only the customers (it reads the transactions Parquet
    itself, inside `build_s`), for the reference the transactions too."""
    # this script is called features.py: keep its folder off the path so `features` is the package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    import features
    from features.builder import build_features
    from features.catalogue import feature_catalogue

    # other people may be editing the builder: record which version this run measured
    package = Path(features.__file__).parent
    code = b"".join(path.read_bytes() for path in sorted(package.rglob("*.py")))
    builder_version = hashlib.sha256(code).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location("pandas_reference", HERE / "pandas_reference.py")
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    core_columns, reference_features = reference.core_columns, reference.reference_features

    core_families = tuple(dict.fromkeys(d.family for d in feature_catalogue(reference.WINDOWS_DAYS)
                                        if d.name in core_columns()))
    spine = spine_for(folder, CUTOFFS[n_cutoffs])
    spark_figures = {}
    if kind == "spark":
        start = time.perf_counter()
        session = spark_session(folder)
        spark_figures["session_s"] = time.perf_counter() - start
    start = time.perf_counter()
    transactions = pd.read_parquet(folder / "transactions.parquet") if kind == "pandas" else None
    customers = pd.read_parquet(folder / "customers.parquet")
    read_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    if kind == "pandas":
        result = reference_features(transactions, spine)
    elif kind == "spark":
        result, spark_figures["driver_s"] = spark_features(session, folder, customers, spine, reference.WINDOWS_DAYS,
                                                           core_families)
    else:
        families = core_families if kind == "core" else None
        result = build_features(folder / "transactions.parquet", customers, spine, reference.WINDOWS_DAYS,
                                families=families)
    build_s, build_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if out:
        result[["customer_id", "cutoff", *core_columns()]].to_parquet(out, index=False)
    figures = {"read_s": read_s, "build_s": build_s, "build_cpu_s": build_cpu_s,
               "spine_rows": len(spine), "output_columns": result.shape[1], "rss_before_output_mb": rss_mb,
               "builder": builder_version if kind != "pandas" else "-", "families": ",".join(core_families),
               **spark_figures}
    print(json.dumps(figures), flush=True)


def spark_session(folder: Path):
    """A local Spark session on SPARK_CORES cores, configured as the pipeline configures one, its Python workers
    started (paid once a session, not per build: reported apart as `session_s`)."""
    from pipeline.common.config import SparkConfig
    from pipeline.common.spark import spark_session as pipeline_session

    session = pipeline_session(SparkConfig(master=f"local[{SPARK_CORES}]", conf={
        "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": str(SPARK_CORES), "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false", "spark.local.dir": str(folder / "spark-tmp")}), "kap-benchmark")
    session.sparkContext.setLogLevel("ERROR")

    def warm_up(batches):  # the first job starts the Python workers, which import the builder: once a session
        import features.builder  # noqa: F401

        yield from batches

    session.range(SPARK_CORES * 2, numPartitions=SPARK_CORES).mapInPandas(warm_up, "id long").collect()
    return session


def spark_features(session, folder: Path, customers: pd.DataFrame, spine: pd.DataFrame, windows_days: tuple,
                   families: tuple) -> tuple[pd.DataFrame, float]:
    """`build_features_spark` of the transactions Parquet in buckets of about LINES_PER_BUCKET lines, and the
    seconds of its population step on the driver (timed around `population_features`)."""
    import features.spark as on_spark

    driver_s = []
    population_features = on_spark.population_features

    def timed(*args, **kwargs):
        start = time.perf_counter()
        result = population_features(*args, **kwargs)
        driver_s.append(time.perf_counter() - start)
        return result

    on_spark.population_features = timed
    lines = session.read.parquet(str(folder / "transactions.parquet"))
    rows = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["rows"]
    buckets = SPARK_CORES * -(-rows // (LINES_PER_BUCKET * SPARK_CORES))  # as the pipeline: whole waves
    result = on_spark.build_features_spark(lines, customers, spine, windows_days, None, families, buckets)
    return result, driver_s[0]


# --------------------------------------------------------------------------------------------- parent


class RunLimitError(RuntimeError):
    pass


@dataclass
class Measurement:
    kind: str
    lines: int
    customers: int
    cutoffs: int
    runs: list[dict] = field(default_factory=list)
    exceeded: str | None = None

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs) if self.runs else float("nan")

    @property
    def peak_mb(self) -> float:
        return max((r["peak_rss_mb"] for r in self.runs), default=float("nan"))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of the process and all its descendants (Spark's JVM and Python workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_mb(current)
        todo += children.get(current, [])
    return total


def run_child(kind: str, folder: Path, n_cutoffs: int, out: Path | None, timeout: float, max_rss_mb: float) -> dict:
    """Run one measurement in a fresh interpreter; its wall figures plus peak RSS from os.wait4."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--data-dir", str(folder),
               "--cutoffs", str(n_cutoffs)]
    if out is not None:
        command += ["--out", str(out)]
    tree_peak = 0.0
    with tempfile.TemporaryFile() as stdout:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=stdout)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - start
            rss = _tree_rss_mb(process.pid) if kind == "spark" else _rss_mb(process.pid)
            tree_peak = max(tree_peak, rss)
            if elapsed > timeout or rss > max_rss_mb:
                os.kill(process.pid, signal.SIGKILL)
                os.wait4(process.pid, 0)
                process.returncode = -signal.SIGKILL
                limit = f"timeout {timeout:.0f} s" if elapsed > timeout else f"limit {max_rss_mb:,.0f} MB"
                raise RunLimitError(f"{kind} run killed after {elapsed:.0f} s at RSS {rss:,.0f} MB ({limit})")
            time.sleep(0.2)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        text = stdout.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{kind} run failed (exit {process.returncode}):\n{text}")
    figures = json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
    # Spark's memory is its JVM's and Python workers' too: the peak of their sampled sum
    figures.update(wall_s=wall, peak_rss_mb=tree_peak if kind == "spark" else usage.ru_maxrss / 1024)
    return figures


def measure(m: Measurement, folder: Path, repeats: int, args: argparse.Namespace, out: Path | None = None) -> None:
    timeout = args.timeout if m.kind != "pandas" else args.reference_timeout
    for repeat in range(repeats):
        last = repeat == repeats - 1
        try:
            figures = run_child(m.kind, folder, m.cutoffs, out if last else None, timeout, args.max_rss_gb * 1024)
        except RunLimitError as error:
            m.exceeded = str(error)
            print(f"  !! {error}", flush=True)
            return
        m.runs.append(figures)
        note = f" ({figures['rss_before_output_mb']:,.0f} MB before writing the output)" if out and last else ""
        print(f"  {m.kind:<6} {m.lines / 1e6:>6.2f}M lines, {m.cutoffs:>2} cutoffs ({figures['spine_rows']:,} spine "
              f"rows), run {repeat + 1}/{repeats}: read {figures['read_s']:.2f} s, build {figures['build_s']:.2f} s "
              f"(CPU {figures['build_cpu_s']:.1f} s), process {figures['wall_s']:.2f} s, peak RSS "
              f"{figures['peak_rss_mb']:,.0f} MB{note}, features code {figures['builder']}, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


def compare(duckdb_path: Path, reference_path: Path) -> bool:
    """Print the max abs difference per core column; True when all agree within RTOL/ATOL."""
    keys = ["customer_id", "cutoff"]
    duck = pd.read_parquet(duckdb_path).sort_values(keys, ignore_index=True)
    ref = pd.read_parquet(reference_path).sort_values(keys, ignore_index=True)
    print(f"\nagreement on core columns (rtol {RTOL:g}, atol {ATOL:g}; {len(duck):,} DuckDB rows, "
          f"{len(ref):,} reference rows)")
    if len(duck) != len(ref) or not duck[keys].equals(ref[keys]):
        print("  !! the (customer_id, cutoff) rows differ")
        return False
    ok = True
    print(f"  {'column':<32} {'max abs diff':>13} {'max rel diff':>13} {'NaN mismatches':>15} {'outside tol':>12}")
    for column in duck.columns.drop(keys):
        a, b = duck[column].to_numpy("float64"), ref[column].to_numpy("float64")
        nan_mismatch = int((np.isnan(a) != np.isnan(b)).sum())
        both = ~np.isnan(a) & ~np.isnan(b)
        diff = np.abs(a[both] - b[both])
        rel = diff / np.maximum(np.abs(b[both]), np.finfo(float).tiny)
        bad = int((~np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)).sum())
        print(f"  {column:<32} {diff.max(initial=0):>13.3g} {rel.max(initial=0):>13.3g} {nan_mismatch:>15,} "
              f"{bad:>12,}")
        ok = ok and bad == 0
    try:
        pd.testing.assert_frame_equal(duck, ref, check_dtype=False, rtol=RTOL, atol=ATOL)
    except AssertionError as error:
        lines = str(error).splitlines()
        print("  !! assert_frame_equal: " + " | ".join([*lines[:2], *lines[-1:]]))
        ok = False
    if not ok:
        bad_rows = np.zeros(len(duck), dtype=bool)
        for column in duck.columns.drop(keys):
            a, b = duck[column].to_numpy("float64"), ref[column].to_numpy("float64")
            bad_rows |= ~np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
        print("  first disagreeing rows (DuckDB, then reference):")
        print(duck[bad_rows].head(3).T.to_string())
        print(ref[bad_rows].head(3).T.to_string())
    return ok


def _size(lines: int, customers: int) -> str:
    def short(n: int) -> str:
        return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k"

    return f"{short(lines)} / {short(customers)}"


def summary(measurements: list[Measurement], reference: Measurement | None) -> None:
    ones = {(m.lines, m.customers): m for m in measurements if m.kind == "core" and m.cutoffs == 1 and m.runs}
    print("\nsummary (medians over runs). impl: core = build_features restricted to the core families "
          f"({reference_families(measurements)}), the same features as the pandas reference; full = every "
          "family (extra information); pandas = benchmarks/pandas_reference.py. read = inputs into pandas (the "
          "builder reads the transactions Parquet itself, inside build); total = read + build; CPU s = CPU time "
          "of the build, all threads; peak RSS = max over runs, whole process incl. the data. 'pandas / this' "
          "compares totals at the same size and spine (like with like: core vs pandas)")
    header = (f"{'impl':<7} {'lines / customers':<18} {'cutoffs':>7} {'spine rows':>11} {'cols':>4} {'runs':>4} "
              f"{'read s':>7} {'build s':>8} {'total s':>8} {'CPU s':>7} {'s per M lines':>13} {'M lines/s':>9} "
              f"{'peak RSS MB':>11} {'pandas / this':>13} {'12 vs 1 cutoff':>14}")
    print(header)
    print("-" * len(header))
    for m in [*measurements, *([reference] if reference else [])]:
        size = _size(m.lines, m.customers)
        if not m.runs:
            print(f"{m.kind:<7} {size:<18} {m.cutoffs:>7} {'':>11} {'':>4} {0:>4}  {m.exceeded}")
            continue
        total = m.median("read_s") + m.median("build_s")
        ratio_pandas = vs_one = ""
        same_size = reference is not None and (m.lines, m.customers) == (reference.lines, reference.customers)
        if same_size and m.cutoffs == 12 and reference.runs:
            ratio_pandas = f"{(reference.median('read_s') + reference.median('build_s')) / total:.2f}x"
        if m.kind == "core" and m.cutoffs == 12 and (m.lines, m.customers) in ones:
            vs_one = f"{m.median('build_s') / ones[m.lines, m.customers].median('build_s'):.2f}"
        print(f"{m.kind:<7} {size:<18} {m.cutoffs:>7} {int(m.runs[0]['spine_rows']):>11,} "
              f"{int(m.runs[0]['output_columns']) - 2:>4} {len(m.runs):>4} {m.median('read_s'):>7.2f} "
              f"{m.median('build_s'):>8.2f} {total:>8.2f} {m.median('build_cpu_s'):>7.1f} "
              f"{total / (m.lines / 1e6):>13.2f} {m.lines / 1e6 / total:>9.2f} {m.peak_mb:>11,.0f} "
              f"{ratio_pandas:>13} {vs_one:>14}" + (f"  (incomplete: {m.exceeded})" if m.exceeded else ""))


def targets(measurements: list[Measurement], reference: Measurement | None) -> None:
    """Each target of the feature library against the main size's figures: met, missed or not measured."""
    runs = [m for m in measurements if m.kind == "core" and m.runs]
    main = max((m for m in runs if m.cutoffs == 12), key=lambda m: m.lines, default=None)
    one = next((m for m in runs if m.cutoffs == 1 and main and m.lines == main.lines), None)
    scaling = sorted((m for m in runs if m.cutoffs == 12), key=lambda m: m.lines)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    if main is None:
        print("\ntargets: not measured")
        return
    print(f"\ntargets (set for 20M lines / 200k customers; checked at {_size(main.lines, main.customers)}, core "
          "families, 12 cutoffs):")
    total = main.median("read_s") + main.median("build_s")
    if reference is not None and reference.runs and reference.lines == main.lines:
        ratio = (reference.median("read_s") + reference.median("build_s")) / total
        print(f"  speed: {ratio:.2f}x the pandas reference (target >= {TARGET_SPEEDUP:g}x): "
              f"{verdict(ratio >= TARGET_SPEEDUP)}")
    else:
        print("  speed: not measured at this size (pandas reference skipped or incomplete)")
    print(f"  peak RSS: {main.peak_mb:,.0f} MB (target <= {TARGET_PEAK_MB:,.0f} MB): "
          f"{verdict(main.peak_mb <= TARGET_PEAK_MB)}")
    if one is not None:
        cost = main.median("build_s") / one.median("build_s")
        print(f"  12 cutoffs vs 1: {cost:.2f}x (target <= {TARGET_CUTOFF_COST:g}x): "
              f"{verdict(cost <= TARGET_CUTOFF_COST)}")
    if len(scaling) >= 3:
        per_line = [m.median("build_s") / (m.lines / 1e6) for m in scaling]
        spread = max(per_line) / min(per_line)
        print(f"  linear: {' / '.join(f'{x:.2f}' for x in per_line)} s per M lines at "
              f"{' / '.join(_size(m.lines, m.customers) for m in scaling)} (max / min {spread:.2f}, linear if <= "
              f"{LINEAR_SPREAD:g}): {verdict(spread <= LINEAR_SPREAD)}")
    else:
        print("  linear: needs 3 sizes (--scaling-rows)")


def spark_main(args: argparse.Namespace) -> None:
    """DuckDB against Spark local[SPARK_CORES] (core families, 12 cutoffs) at each --spark-rows size: medians,
    ratio, agreement, targets and the paper estimate for CLUSTER_LINES lines on CLUSTER_CORES cores."""
    import pyspark

    sizes = sorted(int(r) for r in args.spark_rows.split(",") if r.strip())
    print(f"CPUs {os.cpu_count()}, Python {sys.version.split()[0]}, pandas {pd.__version__}, duckdb "
          f"{__import__('duckdb').__version__}, pyspark {pyspark.__version__}, Spark local[{SPARK_CORES}]", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="kap-bench-out-") as tmp:
        for rows in sizes:
            customers = max(1, round(args.customers * rows / args.rows))
            folder = dataset(args.data_dir, rows, customers, args.seed)
            pair = {}
            for kind in ("core", "spark"):
                print(f"\n{_size(rows, customers)}, {'DuckDB' if kind == 'core' else 'Spark'}, core families, "
                      "12 cutoffs:", flush=True)
                pair[kind] = Measurement(kind, rows, customers, 12)
                measure(pair[kind], folder, args.repeats, args, Path(tmp) / f"{kind}_{rows}.parquet")
            agree = None
            if all((Path(tmp) / f"{kind}_{rows}.parquet").exists() for kind in pair):
                print("\n(DuckDB against Spark: 'reference' below is Spark)")
                agree = compare(Path(tmp) / f"core_{rows}.parquet", Path(tmp) / f"spark_{rows}.parquet")
            results.append((pair["core"], pair["spark"], agree))

    print("\nsummary (medians over runs; Spark's build excludes the session's start and its workers' first imports, "
          f"about "
          f"{statistics.median(r['session_s'] for _, m, _ in results for r in m.runs or [{'session_s': 0}]):.0f} s; "
          "peak RSS of Spark = its process tree: driver, JVM and Python workers)")
    header = (f"{'lines / customers':<18} {'spine rows':>11} {'DuckDB s':>9} {'Spark s':>8} {'Spark / DuckDB':>14} "
              f"{'driver step s':>13} {'core-s per M lines':>18} {'DuckDB MB':>10} {'Spark MB':>9} {'agree':>6}")
    print(header)
    print("-" * len(header))
    per_line = []
    for duck, spark, agree in results:
        if not (duck.runs and spark.runs):
            print(f"{_size(duck.lines, duck.customers):<18} incomplete: {duck.exceeded or spark.exceeded}")
            continue
        executors_s = spark.median("build_s") - spark.median("driver_s")
        per_line.append((spark, executors_s * SPARK_CORES / (spark.lines / 1e6)))
        print(f"{_size(duck.lines, duck.customers):<18} {int(duck.runs[0]['spine_rows']):>11,} "
              f"{duck.median('build_s'):>9.2f} {spark.median('build_s'):>8.2f} "
              f"{spark.median('build_s') / duck.median('build_s'):>13.2f}x {spark.median('driver_s'):>13.2f} "
              f"{per_line[-1][1]:>18.2f} {duck.peak_mb:>10,.0f} {spark.peak_mb:>9,.0f} "
              f"{'yes' if agree else 'NO' if agree is False else '-':>6}")

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print("\ntargets:")
    for duck, spark, agree in results:
        if duck.runs and spark.runs:
            ratio = spark.median("build_s") / duck.median("build_s")
            print(f"  {_size(duck.lines, duck.customers)}: Spark local[{SPARK_CORES}] {ratio:.2f}x DuckDB (target <= "
                  f"{TARGET_SPARK_OVERHEAD:g}x): {verdict(ratio <= TARGET_SPARK_OVERHEAD)}; the same features "
                  f"(rtol {RTOL:g}): {verdict(bool(agree))}")
    if len(per_line) >= 2:
        costs = [cost for _, cost in per_line]
        spread = max(costs) / min(costs)
        print(f"  linear: {' / '.join(f'{c:.2f}' for c in costs)} executor core-s per M lines (max / min "
              f"{spread:.2f}, linear if <= {LINEAR_SPREAD:g}): {verdict(spread <= LINEAR_SPREAD)}")
    if per_line:
        spark, cost = per_line[-1]
        buckets = -(-CLUSTER_LINES // LINES_PER_BUCKET)
        bucket_s = cost * LINES_PER_BUCKET / 1e6
        driver_s = spark.median("driver_s") * CLUSTER_LINES / spark.lines  # customers grow with the lines
        estimate = -(-buckets // CLUSTER_CORES) * bucket_s + driver_s
        print(f"  {CLUSTER_LINES / 1e9:g} billion lines on {CLUSTER_CORES} cores (paper estimate from the "
              f"{_size(spark.lines, spark.customers)} run: {buckets} buckets of {LINES_PER_BUCKET / 1e6:g}M lines at "
              f"{bucket_s:.1f} core-s each, in {-(-buckets // CLUSTER_CORES)} waves, plus the driver step scaled "
              f"with the lines, {driver_s:.0f} s): {estimate / 60:.0f} min (target <= {TARGET_CLUSTER_S / 60:.0f} "
              f"min): {verdict(estimate <= TARGET_CLUSTER_S)}")
    if any(agree is False for *_, agree in results):
        print("\nFAILED: Spark and DuckDB disagree", file=sys.stderr)
        sys.exit(1)
    if any(m.exceeded for duck, spark, _ in results for m in (duck, spark)):
        sys.exit(2)


def reference_families(measurements: list[Measurement]) -> str:
    return next((r["families"] for m in measurements for r in m.runs if r.get("families")), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000_000, help="transaction lines of the main size")
    parser.add_argument("--customers", type=int, default=200_000, help="customers of the main size")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement at the main size")
    parser.add_argument("--scaling-rows", default="5000000,10000000,20000000",
                        help="comma-separated line counts for the scaling runs (customers in proportion)")
    parser.add_argument("--scaling-repeats", type=int, default=1, help="runs per smaller scaling size")
    parser.add_argument("--reference-repeats", type=int, default=1, help="runs of the pandas reference")
    parser.add_argument("--skip-reference", action="store_true", help="do not run the pandas reference")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="cache folder of the data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=900, help="kill a DuckDB run after this many seconds")
    parser.add_argument("--reference-timeout", type=float, default=3600, help="the same for the pandas run")
    parser.add_argument("--max-rss-gb", type=float, default=12, help="kill a run above this resident memory")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200k lines, 2k customers, 1 repeat")
    parser.add_argument("--skip-full", action="store_true", help="do not time the full feature library")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                        help="spark: DuckDB against Spark local[2] at the --spark-rows sizes (core families)")
    parser.add_argument("--spark-rows", default="5000000,20000000", help="comma-separated line counts (--engine spark)")
    parser.add_argument("--child", choices=["core", "full", "pandas", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--cutoffs", type=int, choices=sorted(CUTOFFS), default=12, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir, args.cutoffs, args.out)
        return
    if args.quick:
        args.rows, args.customers, args.repeats, args.scaling_rows = 200_000, 2_000, 1, "50000,100000,200000"

    if args.engine == "spark":
        spark_main(args)
        return
    default = (args.rows, args.customers)
    sizes = sorted({int(s) for s in args.scaling_rows.split(",") if s.strip()} | {args.rows})
    sizes_customers = {r: default[1] if r == args.rows else max(1, round(args.customers * r / args.rows))
                       for r in sizes}
    print(f"CPUs {os.cpu_count()}, Python {sys.version.split()[0]}, pandas {pd.__version__}, "
          f"pyarrow {pa.__version__}, duckdb {__import__('duckdb').__version__}", flush=True)
    folders = {r: dataset(args.data_dir, r, sizes_customers[r], args.seed) for r in sizes}

    measurements: list[Measurement] = []
    reference: Measurement | None = None
    with tempfile.TemporaryDirectory(prefix="kap-bench-out-") as tmp:
        outputs = {rows: Path(tmp) / f"core_{rows}.parquet" for rows in sizes}
        print("\nscaling and main size, core families, 12 cutoffs:", flush=True)
        for rows in sizes:
            m = Measurement("core", rows, sizes_customers[rows], 12)
            measurements.append(m)
            measure(m, folders[rows], args.repeats if rows == args.rows else args.scaling_repeats, args, outputs[rows])
        # the pandas comparison and the 1-cutoff ratio need a completed 12-cutoff run: main size, else the largest
        completed = [rows for rows in sizes if outputs[rows].exists()]
        compare_rows = args.rows if args.rows in completed else max(completed, default=None)
        one_cutoff_sizes = [args.rows] + ([compare_rows] if compare_rows not in (None, args.rows) else [])
        for rows in one_cutoff_sizes:
            print(f"\n{_size(rows, sizes_customers[rows])}, core families, 1 cutoff:", flush=True)
            one = Measurement("core", rows, sizes_customers[rows], 1)
            measurements.append(one)
            measure(one, folders[rows], args.repeats if rows == args.rows else args.scaling_repeats, args)
        if not args.skip_full and compare_rows is not None:
            print(f"\n{_size(compare_rows, sizes_customers[compare_rows])}, full library, 12 cutoffs:", flush=True)
            full = Measurement("full", compare_rows, sizes_customers[compare_rows], 12)
            measurements.append(full)
            measure(full, folders[compare_rows], 1, args)
        agree = None
        if not args.skip_reference and compare_rows is not None:
            note = "" if compare_rows == args.rows else " (the main size's DuckDB run did not complete)"
            print(f"\npandas reference, {_size(compare_rows, sizes_customers[compare_rows])}, 12 cutoffs{note}:",
                  flush=True)
            ref_out = Path(tmp) / "reference.parquet"
            reference = Measurement("pandas", compare_rows, sizes_customers[compare_rows], 12)
            measure(reference, folders[compare_rows], args.reference_repeats, args, ref_out)
            if reference.runs and reference.median("build_s") > 120 and args.reference_repeats == 1:
                print("  (one run only: the reference takes minutes)")
            if ref_out.exists():
                agree = compare(outputs[compare_rows], ref_out)

    print("\nscaling (build_features, core families, 12 cutoffs; build includes reading the Parquet):")
    for m in measurements:
        if m.kind == "core" and m.cutoffs == 12 and m.runs:
            print(f"  {_size(m.lines, m.customers):<18} build {m.median('build_s'):8.2f} s = "
                  f"{m.median('build_s') / (m.lines / 1e6):6.2f} s per M lines "
                  f"({m.median('build_s') / (m.runs[0]['spine_rows'] / 1e6):6.2f} s per M spine rows), "
                  f"read {m.median('read_s'):6.2f} s, peak RSS {m.peak_mb:,.0f} MB")
    summary(measurements, reference)
    targets(measurements, reference)
    versions = sorted({r["builder"] for m in measurements for r in m.runs})
    print(f"\nfeatures code versions measured (sha256 prefix): {', '.join(versions) or '-'}"
          + ("  !! the features code changed during the benchmark: figures mix versions" if len(versions) > 1 else ""))
    if agree is False:
        print("\nFAILED: the DuckDB builder and the pandas reference disagree", file=sys.stderr)
        sys.exit(1)
    if agree is None and not args.skip_reference:
        print("\nagreement not checked (a run was incomplete)")
    if any(m.exceeded for m in [*measurements, *([reference] if reference else [])]):
        sys.exit(2)


if __name__ == "__main__":
    main()
