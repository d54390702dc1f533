"""Orders (invoices with positive value) per window, before it, their growth, and to date."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.common import GROWTH_WINDOWS_DAYS, growth

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "orders"
READS = frozenset({"orders"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The orders features for these windows."""
    feature = catalogue.FeatureDef
    defs = [feature(f"orders_count_{w}d", NAME, f"{w}d",
                    f"Number of invoices with positive value in the {w} days before the cutoff.",
                    f"orders in last {w} days",
                    compare_to=f"orders_count_prev_{w}d" if w in GROWTH_WINDOWS_DAYS else None,
                    orders_feature=f"orders_count_{w}d")
            for w in windows_days]
    for w in GROWTH_WINDOWS_DAYS:
        defs += [
            feature(f"orders_count_prev_{w}d", NAME, f"prev_{w}d", f"Orders in the {w} days before the last {w} days.",
                    f"orders in the {w} days before that"),
            feature(f"orders_growth_{w}d", NAME, f"{w}d",
                    f"(last {w}d - previous {w}d) / (last + previous) orders, in [-1, 1]; NaN when both are zero.",
                    f"order trend over last {w} days", unit="ratio"),
        ]
    return [*defs, feature("orders_count_all", NAME, "all", "Orders over all history before the cutoff.",
                           "orders to date", orders_feature="orders_count_all")]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    w, v = sources.days, {}
    w.prefetch(None, 0, *sources.windows_days, *GROWTH_WINDOWS_DAYS, *(2 * g for g in GROWTH_WINDOWS_DAYS))
    for days in sources.windows_days:
        v[f"orders_count_{days}d"] = w.sum("orders", days)
    for days in GROWTH_WINDOWS_DAYS:
        v[f"orders_count_prev_{days}d"] = w.sum("orders", 2 * days, days)
        v[f"orders_growth_{days}d"] = growth(w.sum("orders", days), v[f"orders_count_prev_{days}d"])
    v["orders_count_all"] = w.sum("orders", None)
    return v
