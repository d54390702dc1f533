"""Mean and largest order value per window, largest to date."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue
from features.families.common import from_units

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "order"
READS = frozenset({"orders", "gross", "max_order"})


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The order-value features for these windows."""
    feature = catalogue.FeatureDef
    defs = []
    for w in windows_days:
        defs += [
            feature(f"order_value_mean_{w}d", NAME, f"{w}d",
                    f"Mean gross value per order in the {w} days before the cutoff (NaN without orders).",
                    f"average order value over last {w} days", unit="money", orders_feature=f"orders_count_{w}d",
                    order_value=True, typical="peers"),
            feature(f"order_value_max_{w}d", NAME, f"{w}d",
                    f"Largest gross order value in the {w} days before the cutoff (NaN without orders).",
                    f"largest order in last {w} days", unit="money", orders_feature=f"orders_count_{w}d",
                    order_value=True, typical="peers"),
        ]
    return [*defs, feature("order_value_max_all", NAME, "all", "Largest gross order value before the cutoff.",
                           "largest order to date", unit="money", orders_feature="orders_count_all",
                           order_value=True, typical="peers")]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    w, v = sources.days, {}
    w.prefetch(None, 0, *sources.windows_days)
    for days in sources.windows_days:
        orders = w.sum("orders", days)
        v[f"order_value_mean_{days}d"] = from_units(w.sum("gross", days)) / np.where(orders > 0, orders, np.nan)
    for days in (*sources.windows_days, None):
        largest = w.reduce(np.maximum, "max_order", days)  # 0 without orders: an order's value is > 0
        v[f"order_value_max_{days}d" if days else "order_value_max_all"] = np.where(
            largest > 0, from_units(largest), np.nan)
    return v
