"""The builder against the independent pandas implementation of the core families kept in `benchmarks/`,
on the benchmark's own generator (heavy-tailed customers, multi-line invoices, credit notes)."""

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

from features.builder import build_features
from features.catalogue import feature_catalogue

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses in the module look themselves up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [3, 11])
def test_builder_equals_the_pandas_reference_on_every_core_feature(tmp_path, seed):
    benchmark = _module("kap_benchmark_features", BENCHMARKS / "features.py")
    reference = _module("kap_pandas_reference", BENCHMARKS / "pandas_reference.py")
    benchmark.generate(tmp_path, rows=40_000, customers=400, seed=seed)
    spine = benchmark.spine_for(tmp_path, benchmark.CUTOFFS[12])
    columns = reference.core_columns()
    families = tuple(dict.fromkeys(d.family for d in feature_catalogue(reference.WINDOWS_DAYS)
                                   if d.name in columns))
    built = build_features(tmp_path / "transactions.parquet", pd.read_parquet(tmp_path / "customers.parquet"),
                           spine, reference.WINDOWS_DAYS, families=families)
    expected = reference.reference_features(pd.read_parquet(tmp_path / "transactions.parquet"), spine)

    assert sorted(built.columns.drop(["customer_id", "cutoff"])) == sorted(columns)
    keys = ["customer_id", "cutoff"]
    built = built[[*keys, *columns]].sort_values(keys, ignore_index=True)
    expected = expected.sort_values(keys, ignore_index=True)
    assert len(built) == len(spine) and built[keys].equals(expected[keys])
    assert built[columns].notna().any().all()  # every feature has values to compare
    pd.testing.assert_frame_equal(built, expected, check_dtype=False, rtol=1e-9, atol=1e-8)
