"""Property: rows at or after a cutoff (added, removed or changed) never change that cutoff's features."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.builder import build_features
from tests.conftest import customers_frame

CUSTOMERS = ["A", "B", "C"]
START = pd.Timestamp("2022-01-01")


@st.composite
def history_and_cutoff(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    rows = []
    for _ in range(n):
        minutes = draw(st.integers(min_value=0, max_value=2 * 365 * 24 * 60))
        rows.append((
            draw(st.sampled_from(CUSTOMERS)),
            f"I{draw(st.integers(min_value=0, max_value=n))}",
            START + pd.Timedelta(minutes=minutes),
            draw(st.sampled_from(["Tools", "Paint", "Safety", "Office"])),
            draw(st.floats(min_value=-200, max_value=2000, allow_nan=False)),
            draw(st.one_of(st.none(), st.floats(min_value=0, max_value=90))),
        ))
    frame = pd.DataFrame(rows, columns=["customer_id", "invoice_id", "timestamp", "category", "amount",
                                        "days_to_pay"])
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    frame["days_to_pay"] = frame["days_to_pay"].astype("float64")
    cutoff = START + pd.Timedelta(days=draw(st.integers(min_value=1, max_value=2 * 365)))
    return frame, cutoff


def mutate_future(frame: pd.DataFrame, cutoff: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Drop some rows at/after the cutoff, change the others, and add new ones at/after it."""
    rng = np.random.default_rng(seed)
    future = frame["timestamp"] >= cutoff
    kept = frame[~future | (rng.random(len(frame)) < 0.5)].copy()
    changed = kept["timestamp"] >= cutoff
    kept.loc[changed, "amount"] = kept.loc[changed, "amount"] * 3 + 7
    kept.loc[changed, "category"] = "NewCategory"
    added = pd.DataFrame({
        "customer_id": rng.choice(CUSTOMERS, 5),
        "invoice_id": [f"F{i}" for i in range(5)],
        "timestamp": (cutoff + pd.to_timedelta(rng.integers(0, 400 * 24 * 60, 5), unit="min")).astype("datetime64[us]"),
        "category": "Tools",
        "amount": rng.uniform(-100, 5000, 5),
        "days_to_pay": rng.uniform(0, 60, 5),
    })
    return pd.concat([kept, added], ignore_index=True).sample(frac=1, random_state=seed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_and_cutoff(), st.integers(min_value=0, max_value=10_000))
def test_future_rows_never_change_features(data, seed):
    frame, cutoff = data
    spine = pd.DataFrame({"customer_id": CUSTOMERS, "cutoff": cutoff})
    customers = customers_frame(CUSTOMERS)
    before = build_features(frame, customers, spine)
    after = build_features(mutate_future(frame, cutoff, seed), customers, spine)
    pd.testing.assert_frame_equal(before, after)
