"""How much of the recent buying tries categories added this year (a customer piloting new ranges)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue, sql

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "expansion"
READS = frozenset({"lines"})
EXPANSION_WINDOWS_DAYS = (90, 180)  # recent buying whose share in newly added categories shows a trial
EXPANSION_LOOKBACK_DAYS = 365  # a category is newly added if first bought this many days before the cutoff or later


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """`expansion_{line,spend}_share_<w>d` (the same for every windows)."""
    added = (f"categories the customer first bought in the {EXPANSION_LOOKBACK_DAYS} days before the cutoff, after "
             "its first purchase day")
    return [catalogue.FeatureDef(f"expansion_{measure}_share_{w}d", NAME, f"{w}d",
                                 f"Share of the {what} in the {w} days before the cutoff that went to {added} (a "
                                 f"customer trying new ranges: a pilot); NaN without purchases.",
                                 f"{noun} in newly added categories (last {w} days)", unit="share")
            for w in EXPANSION_WINDOWS_DAYS
            for measure, what, noun in (("line", "purchase lines (amount > 0)", "purchase lines"),
                                        ("spend", "purchase value (lines with amount > 0)", "purchases"))]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    """Shares of the purchase lines and of their value in the window that went to newly added categories."""
    purchases, added = sql.expansion_events(sources.con, EXPANSION_WINDOWS_DAYS, EXPANSION_LOOKBACK_DAYS)
    in_window, newly = sources.probes.windows(purchases), sources.probes.windows(added)
    shares = {}
    for w in EXPANSION_WINDOWS_DAYS:
        lines, units = in_window.sum("lines", w), in_window.sum("units", w)
        # events on the cutoff day itself already apply (they are dated the day after the purchase)
        shares[f"expansion_line_share_{w}d"] = newly.sum(f"added_lines_{w}", None, -1) / np.where(
            lines > 0, lines, np.nan)
        shares[f"expansion_spend_share_{w}d"] = newly.sum(f"added_units_{w}", None, -1) / np.where(
            units > 0, units, np.nan)
    return shares
