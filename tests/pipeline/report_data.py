"""A generated scoring run for the sales report tests: realistic columns, hostile and missing strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common.io import write_json
from pipeline.common.report import MANIFEST_FILE, PROSPECTS_FILE, SPEND_BY_MONTH_FILE

HOSTILE_NAMES = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "Acme \u202egnp.exe",
                 None, "Bold & Co </script><script>window.pwned=1</script>", "<img src=x onerror=window.pwned=1>",
                 "Line\u2028Separator GmbH", "\"Quoted\" 'Ltd' <!--"]
OWNERS = ["Jane Doe", "Ömer Yılmaz", "Li Wei", "Anna-Lena Schmidt", "O'Brien & Partners", None]
INDUSTRIES = ["Retail", "Wholesale", "Construction", "Healthcare", "Manufacturing", None]
REGIONS = ["North", "South", "East", "West", None]
REASONS = [("orders in last 180 days: {a}, up from {b} (highest {p}% of eligible customers)", 1),
           ("spend in last 90 days: {a},000, up from {b},000 (highest {p}% of eligible customers)", 1),
           ("product categories in last 365 days: {a} (like {p}% of eligible customers)", 1),
           ("days since last order: {a} (longer than {p}% of eligible customers)", -1),
           ("one order in the last 365 days: {a} (like {p}% of eligible customers)", -1),
           ("employees: {a}0 (more than {p}% of eligible customers)", 1)]
N_REASONS = 3


def report_pieces(n: int, seed: int = 0, previous_as_of: str | None = "2025-05-01", explain_top: int = 500,
                  hostile: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(prospects, spend_by_month, manifest) of a run of `n` eligible customers as the scoring stage writes them;
    with `hostile`, the first customers carry HOSTILE_NAMES (C00003 has no company name) and two manifest strings
    hold markup."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:05d}" for i in range(n)]
    names = [f"{rng.choice(['Nord', 'Süd', 'Alpen', 'Rhein', 'Baltic', 'Delta'])} "
             f"{rng.choice(['Tools', 'Supplies', 'Logistik', 'Bau', 'Medical', 'Foods'])} {i}" for i in range(n)]
    if hostile:
        names[: len(HOSTILE_NAMES)] = HOSTILE_NAMES
    probability = np.sort(rng.beta(1.2, 12, n))[::-1]
    score = np.clip(99 - (np.arange(n) * 99) // n, 1, 99)
    tier = np.select([np.arange(n) < n * 0.05, np.arange(n) < n * 0.2, np.arange(n) < n * 0.5], ["A", "B", "C"], "D")
    previous_rank = pd.array(rng.permutation(n) + 1, dtype="Int64")
    previous_rank[rng.random(n) < 0.1] = pd.NA
    if previous_as_of is None:
        previous_rank[:] = pd.NA
    frame = pd.DataFrame({
        "rank": np.arange(1, n + 1), "customer_id": ids, "company_name": pd.array(names, dtype="str"),
        "industry": pd.array(rng.choice(np.array(INDUSTRIES, dtype=object), n), dtype="str"),
        "region": pd.array(rng.choice(np.array(REGIONS, dtype=object), n), dtype="str"),
        "country": "Germany", "account_owner": pd.array(rng.choice(np.array(OWNERS, dtype=object), n), dtype="str"),
        "spend_12m": rng.gamma(1.5, 8000, n), "probability": probability, "score": score, "tier": tier,
        "previous_rank": previous_rank,
        "previous_tier": pd.array(np.where(previous_rank.isna(), None, rng.choice(list("ABCD"), n)), dtype="str"),
        "previous_score": pd.array(np.where(previous_rank.isna(), None, rng.integers(1, 100, n)), dtype="Int64"),
    })
    for k in range(1, N_REASONS + 1):
        picks = rng.integers(0, len(REASONS), n)
        texts = []
        for i, pick in enumerate(picks):
            template, sign = REASONS[pick]
            text = template.format(a=rng.integers(2, 40), b=rng.integers(1, 20), p=rng.integers(1, 30))
            texts.append(f"{text} — {'raises' if sign > 0 else 'lowers'}" if i < explain_top else "")
        frame[f"reason_{k}"] = pd.array(texts, dtype="str")
        effect = rng.gamma(2, 0.2, n) / k * np.array([REASONS[p][1] for p in picks])
        frame[f"effect_{k}"] = np.where(np.arange(n) < explain_top, effect, np.nan)
    months = [str(p) for p in pd.period_range(end="2025-05", periods=24, freq="M")]
    spend = pd.DataFrame(rng.gamma(0.6, 900, (n, 24)) * (rng.random((n, 24)) < 0.6), index=pd.Index(ids, name=
                         "customer_id"), columns=months)
    mark = " <by now>" if hostile else ""  # hostile manifest strings too
    manifest = {
        "as_of": "2025-06-01", "data_through": "2025-05-29", "model_name": "key_account_potential",
        "model_version": "7", "currency": "EUR", "eligible_customers": n, "previous_as_of": previous_as_of,
        "tiers": {t: int((tier == t).sum()) for t in "ABCD"},
        "trust": ["On the backtest (6 folds), the model's top 100 held 61 future key accounts against 24 for ranking "
                  "by spend.", f"Of the list issued on 2024-06-01, 38 of the top 100 became key accounts{mark}."],
        "gains": [{"share_contacted": s, "model": min(1.0, 1 - (1 - s) ** 6), "spend_rank": min(1.0, 1 - (1 - s) ** 2)}
                  for s in np.linspace(0.05, 1, 20).round(2).tolist()],
        "drivers": [{"feature": label, "importance": value} for label, value in
                    [("orders in last 180 days", 0.61), ("spend growth over 180 days", 0.44),
                     ("days since last order", 0.31), ("product categories in last 365 days", 0.22),
                     (f"employees{mark}", 0.12)]],
    }
    return frame, spend, manifest


def write_run(folder: Path, prospects: pd.DataFrame, spend_by_month: pd.DataFrame, manifest: dict) -> Path:
    """A run folder as the scoring stage leaves it (without report.html)."""
    folder.mkdir(parents=True, exist_ok=True)
    prospects.to_parquet(folder / PROSPECTS_FILE, index=False)
    spend_by_month.to_parquet(folder / SPEND_BY_MONTH_FILE)
    write_json(manifest, folder / MANIFEST_FILE)
    return folder
