"""The demo's oracle: what the generating process expects each customer to spend.

`expected_spend_known_at` serves every world: it dispatches on the simulated period's `world` (the project
world's oracle is demo/project_oracle.py). The rest of this module is the adoption world's (demo/process.py):
`expected_spend(ground_truth, start, end)` integrates the monthly process over [start, end) and returns the
expected NET spend (gross * (1 - expected_return_share)); `expected_spend_known_at` does the same knowing only
the adoptions and churns that have shown by the cutoff (the others redrawn from their priors), the best
ranking one could know then. The netting ignores that a credit note lands a few business days after its
invoice and is dropped past the period end (<0.1 % effect).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
import pandas as pd

from demo import project_oracle
from demo.common import PROJECTS
from demo.process import DAYS_PER_YEAR, DECLINE_MAX_DAYS, DECLINE_MIN_DAYS, Latent, month_starts, to_day

GROUND_TRUTH_FILE = "ground_truth.parquet"  # the simulator's ground truth, beside the demo's tables


class SimulatedPeriod(Protocol):
    """The world the ground truth comes from and the period it was simulated over: first day, exclusive end."""

    @property
    def world(self) -> str: ...

    @property
    def start(self) -> pd.Timestamp: ...

    @property
    def end(self) -> pd.Timestamp: ...


def expected_spend(ground_truth: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Expected net spend of every customer in [start, end) under the generator (index customer_id).

    Integrates the generator's monthly expected gross spend over the business days of the window that
    fall inside each customer's [active_from, active_until), then nets expected credit notes:
    gross * (1 - expected_return_share). Windows are cut at whole days (times of day are ignored).
    """
    total = _net_spend(Latent.from_frame(ground_truth), to_day(start), to_day(end))
    return pd.Series(
        total, index=pd.Index(ground_truth["customer_id"], name="customer_id"), name="expected_spend"
    )


def expected_spend_known_at(ground_truth: pd.DataFrame, cutoff: pd.Timestamp, end: pd.Timestamp,
                            period: SimulatedPeriod, seed: int, draws: int = 64) -> pd.Series:
    """Expected net spend in [cutoff, end) given everything the generator has decided and shown by the cutoff.

    Every latent parameter is known (wallet, grower, share_max, ...), but an adoption whose first sign (the
    pilot's start, or the onset without a pilot) is not before the cutoff, and a churn whose decline has not
    begun, have not happened yet: they are redrawn `draws` times from the generator's own priors conditioned
    on that (onsets uniform over the rest of their range; churn with churn_probability at a uniform time,
    draws whose decline would already have begun rejected) and the expected spend is averaged. This is the
    best ranking one could know at the cutoff; `expected_spend` also knows the future onsets and churns.
    `period` is the one the ground truth was simulated over (the simulator's settings have it). Meant for
    customers who arrived before the cutoff. Deterministic for (seed, cutoff).

    For the project world (period.world 'projects') it is `demo.project_oracle.expected_spend_known_at`.
    """
    if period.world == PROJECTS:
        return project_oracle.expected_spend_known_at(ground_truth, cutoff, end, seed, draws)
    latent = Latent.from_frame(ground_truth)
    lo, hi = to_day(cutoff), to_day(end)
    start, period_end = to_day(period.start), to_day(period.end)
    rng = np.random.default_rng([seed, int(lo.astype(np.int64))])
    n = len(ground_truth)
    unseen_onset = (latent.onset - lo).astype("float64") >= latent.pilot_days
    unseen_churn = np.isnat(latent.decline_from) | (latent.decline_from >= lo)
    # the generator's ranges: onset day offsets up to period + 1 year, churn up to 2 years past the period
    earliest_onset = (lo - start).astype("float64") + np.ceil(latent.pilot_days)
    last_onset = (period_end - start).astype("float64") + DAYS_PER_YEAR
    churn_range = (period_end - latent.active_from).astype("float64") + 2.0 * DAYS_PER_YEAR
    churn_probability = ground_truth["churn_probability"].to_numpy(dtype="float64")
    total, weight = np.zeros(n), np.zeros(n)
    for _ in range(draws):
        onset_u, churn_u, time_u, decline_u = rng.random((4, n))
        onset_offset = np.floor(earliest_onset + onset_u * np.maximum(last_onset - earliest_onset, 0.0))
        churns = churn_u < churn_probability
        churn_at = latent.active_from + (30 + np.floor(time_u * churn_range)).astype("timedelta64[D]")
        decline_days = DECLINE_MIN_DAYS + decline_u * (DECLINE_MAX_DAYS - DECLINE_MIN_DAYS)
        decline_from = np.where(churns, churn_at - np.round(decline_days).astype("timedelta64[D]"),
                                np.datetime64("NaT"))
        drawn = dataclasses.replace(
            latent,
            onset=np.where(unseen_onset, start + onset_offset.astype("timedelta64[D]"), latent.onset),
            decline_from=np.where(unseen_churn, decline_from, latent.decline_from),
            decline_days=np.where(unseen_churn, decline_days, latent.decline_days),
            active_until=np.where(unseen_churn, np.where(churns, np.minimum(churn_at, period_end), period_end),
                                  latent.active_until),
        )
        consistent = ~unseen_churn | ~churns | (decline_from >= lo)
        total += np.where(consistent, _net_spend(drawn, lo, hi), 0.0)
        weight += consistent
    known = np.divide(total, weight, out=np.full(n, np.nan), where=weight > 0)
    return pd.Series(
        known, index=pd.Index(ground_truth["customer_id"], name="customer_id"), name="expected_spend_known"
    )


def noise_free_history(ground_truth: pd.DataFrame, cutoff: pd.Timestamp,
                       windows_days: tuple[int, ...] = (30, 90, 365)) -> pd.DataFrame:
    """What infinitely many orders before the cutoff would show of each customer (index customer_id): expected
    net spend in each window before the cutoff, and pilot intensity, adoption progress and pre-churn decline
    factor at the cutoff. Nothing about the future (an adoption or decline that has not begun reads 0, 0, 1): a
    diagnostic of how much of the gap to the oracle is the noise of orders."""
    latent = Latent.from_frame(ground_truth)
    day = to_day(cutoff)
    columns = {f"noise_free_spend_{w}d": _net_spend(latent, day - np.timedelta64(w, "D"), day) for w in windows_days}
    at_cutoff = np.array([day])
    columns |= {"noise_free_pilot": latent.pilot(at_cutoff)[:, 0],
                "noise_free_progress": latent.progress(at_cutoff)[:, 0],
                "noise_free_decline": latent.decline(at_cutoff)[:, 0]}
    return pd.DataFrame(columns, index=pd.Index(ground_truth["customer_id"], name="customer_id"))


def _net_spend(latent: Latent, lo: np.datetime64, hi: np.datetime64) -> np.ndarray:
    """Expected net spend per customer in [lo, hi) (days)."""
    if hi <= lo:
        return np.zeros(len(latent.wallet))
    parts = latent.month_parts(month_starts(lo, hi), lo, hi)
    return parts["gross"].sum(axis=1) * (1.0 - latent.return_share)

