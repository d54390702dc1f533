"""Arithmetic several families share."""

from __future__ import annotations

import numpy as np

from features.sql import MONEY_SCALE

GROWTH_WINDOWS_DAYS = (90, 180)  # windows compared with the one before them (spend, orders)


def from_units(units: np.ndarray) -> np.ndarray:
    """Money (or days to pay) from integers of 1/MONEY_SCALE."""
    return units / MONEY_SCALE


def growth(last: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """(last - previous) / (|last| + |previous|), in [-1, 1]; NaN when both are zero."""
    total = np.abs(last) + np.abs(previous)
    return (last - previous) / np.where(total > 0, total, np.nan)
