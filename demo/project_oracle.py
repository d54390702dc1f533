"""The project world's oracle: what its generating process (demo/project_process.py) expects each customer to
spend.

Expected net spend in a window = (run-rate spend + the sample orders of every tender whose bid overlaps it +
the share of every won project's size that falls in it) * (1 - expected_return_share). `expected_spend` knows
every tender, including those of the future and their outcomes; `expected_spend_known_at` only what has
shown by the cutoff. Like the adoption world's oracle it ignores that a credit note lands a few business days
after its invoice, and that sample and project orders on a weekend move to the next business day.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from demo.process import to_day
from demo.project_process import MEAN_SIZE_FACTOR, Firms, Tenders, simulate_tenders, tender_spend


def expected_spend(ground_truth: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Expected net spend of every customer in [start, end) knowing all its tenders and their outcomes
    (index customer_id)."""
    firms = Firms.from_frame(ground_truth)
    tenders = Tenders.from_frame(ground_truth, firms)
    lo, hi = to_day(start), to_day(end)
    window_lo, window_hi = _window(firms, tenders.firm, lo, hi)
    spend = tender_spend(tenders, firms, window_lo, window_hi, np.where(tenders.won, tenders.project_size, 0.0))
    gross = firms.run_rate_spend(lo, hi) + np.bincount(tenders.firm, spend, minlength=len(firms.run_rate))
    return _series(firms, gross * (1.0 - firms.return_share), "expected_spend")


def expected_spend_known_at(ground_truth: pd.DataFrame, cutoff: pd.Timestamp, end: pd.Timestamp, seed: int,
                            draws: int = 64) -> pd.Series:
    """Expected net spend in [cutoff, end) given everything the generator has decided and shown by the cutoff.

    Known: every firm's latent parameters, and every tender whose bid has opened before the cutoff, with
    the size, timing and (if decided before the cutoff) outcome of its project. Not yet known: the outcome of
    a tender decided on or after the cutoff (its project counts with win_probability) and the tenders still
    to come. Those are simulated `draws` times from the cutoff on with the generator's own tender process
    (`simulate_tenders`), started from the momentum of the known wins and of each draw's outcomes of the open
    tenders; a future tender's project counts with win_probability times the mean project size. This is the
    best ranking one could know at the cutoff; `expected_spend` also knows the future tenders and outcomes.
    Deterministic for (seed, cutoff).
    """
    firms = Firms.from_frame(ground_truth)
    tenders = Tenders.from_frame(ground_truth, firms)
    lo, hi = to_day(cutoff), to_day(end)
    n = len(firms.run_rate)
    shown = tenders.arrival < lo
    decided = shown & (tenders.decision < lo)
    open_bids = tenders.subset(shown & ~decided)
    known = tenders.subset(decided)
    known_lo, known_hi = _window(firms, known.firm, lo, hi)
    gross = firms.run_rate_spend(lo, hi) + np.bincount(
        known.firm, tender_spend(known, firms, known_lo, known_hi, np.where(known.won, known.project_size, 0.0)),
        minlength=n)
    open_lo, open_hi = _window(firms, open_bids.firm, lo, hi)
    win = firms.win_probability[open_bids.firm]
    gross += np.bincount(open_bids.firm, tender_spend(open_bids, firms, open_lo, open_hi,
                                                      win * open_bids.project_size), minlength=n)
    if hi > lo:
        gross += _future_tenders(firms, known, open_bids, lo, hi, seed, draws)
    return _series(firms, gross * (1.0 - firms.return_share), "expected_spend_known")


def _future_tenders(firms: Firms, known: Tenders, open_bids: Tenders, lo: np.datetime64, hi: np.datetime64,
                    seed: int, draws: int) -> np.ndarray:
    """Mean over `draws` simulations of the gross spend in [lo, hi) of the tenders that open from lo on."""
    n = len(firms.run_rate)
    rng = np.random.default_rng([seed, int(lo.astype(np.int64))])
    rows = np.tile(np.arange(n), draws)
    draw_start = (np.arange(draws) * n)[:, None]  # row of firm f in draw d: d * n + f
    wins = known.subset(known.won)
    open_won = rng.random((draws, len(open_bids.firm))) < firms.win_probability[open_bids.firm]
    draw_of_open, open_index = np.nonzero(open_won)
    won_rows = np.concatenate([(wins.firm[None, :] + draw_start).ravel(),
                               open_bids.firm[open_index] + draw_of_open * n])
    won_days = np.concatenate([np.tile(wins.decision, draws), open_bids.decision[open_index]])
    future = simulate_tenders(firms, rows, np.maximum(firms.tender_from, lo)[rows], hi, won_rows, won_days, rng)
    future_firm = rows[future.firm]
    by_firm = dataclasses.replace(future, firm=future_firm)
    window_lo, window_hi = _window(firms, future_firm, lo, hi)
    mean_project = firms.win_probability[future_firm] * firms.project_scale[future_firm] * MEAN_SIZE_FACTOR
    spend = tender_spend(by_firm, firms, window_lo, window_hi, mean_project)
    return np.bincount(future_firm, spend, minlength=n) / draws


def _window(firms: Firms, firm: np.ndarray, lo: np.datetime64, hi: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi) cut to each tender's firm's ordering interval (no orders outside the simulated period)."""
    return np.maximum(firms.active_from[firm], lo), np.minimum(firms.active_until[firm], hi)


def _series(firms: Firms, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values, index=pd.Index(firms.customer_id, name="customer_id", dtype="str"), name=name)
