"""The feature catalogue: the registry of feature families and the features they declare (name, family,
window, definition and the plain words sales reads).

Names follow `<family>_<measure>_<window>`. Each family declares its features next to the code computing them
(`features/families/`), for the configured windows, so the builder, the reason codes and the documentation can
never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from features.families import (
    cadence,
    categories,
    expansion,
    firm,
    order,
    orders,
    payment,
    products,
    recency,
    relationship,
    returns,
    spend,
    tenure,
    wallet,
)

if TYPE_CHECKING:
    import numpy as np

    from features.builder import Sources


@dataclass(frozen=True)
class FeatureDef:
    name: str
    family: str
    window: str
    definition: str
    label: str  # plain words for reason codes, e.g. "orders in last 90 days"
    kind: Literal["numeric", "categorical"] = "numeric"
    # "ratio" is a signed change (+35%), "multiple" a quotient of two amounts (3×)
    unit: Literal["count", "money", "days", "years", "share", "ratio", "multiple", "text", "score"] = "count"
    compare_to: str | None = None  # feature holding the earlier value, shown as "up from ..."
    # The orders count of this feature's window (`orders_count_90d`; only windows ending at the cutoff, "<N>d" or
    # "all"): a reason whose window holds no orders reads "no orders in the last 90 days" when the feature is
    # unknown or 0 there, and one whose window holds one order "one order in the last 90 days: 910" when it is
    # unknown, the count itself, the order's value (`order_value`) or a money amount showing that value.
    orders_feature: str | None = None
    order_value: bool = False  # with exactly one order in its window, it is that order's value (mean, largest)
    # how a reason compares it with typical: "rank" its standing among the rows explained ("highest 8% of
    # eligible customers"), "peers" the multiple of the median of its industry and size band ("3× the median of
    # its industry and size", the standing where that group is too small), None nothing (relative already, text)
    typical: Literal["rank", "peers"] | None = "rank"

    @property
    def measure(self) -> str:
        """The name without its trailing window length: `spend_sum_90d` and `spend_sum_all` are both
        `spend_sum` (one reason for sales), `spend_sum_prev_90d` is `spend_sum_prev`."""
        return re.sub(r"_(\d+d|all)$", "", self.name)

    @property
    def window_days(self) -> float:
        """Length of a window ending at the cutoff in days ("90d": 90, "all": infinite)."""
        if self.window == "all":
            return float("inf")
        if not re.fullmatch(r"\d+d", self.window):
            raise ValueError(f"{self.name}: window {self.window!r} does not end at the cutoff")
        return float(self.window[:-1])

    @property
    def window_words(self) -> str:
        """A window ending at the cutoff in words: "in the last 90 days", "to date"."""
        days = self.window_days
        return "to date" if days == float("inf") else f"in the last {days:.0f} days"


class Family(Protocol):
    """A module of `features/families/`: its features and how to compute them."""

    NAME: str
    # what it reads off the rollup: day columns ("spend", "gross", "orders", "max_order", "purchase"), "paid"
    # (payment days), "bought" (the values it counts), "category_segments"; "lines": it queries the lines itself
    READS: frozenset[str]

    def features(self, windows_days: tuple[int, ...]) -> list[FeatureDef]: ...

    def compute(self, sources: Sources) -> dict[str, np.ndarray]: ...


# in output column order (LightGBM samples columns by position); a family's features are contiguous
FAMILIES: tuple[Family, ...] = (spend, orders, order, cadence, recency, tenure, categories, products, expansion,
                                returns, payment, wallet, relationship, firm)


def wanted_families(families: tuple[str, ...] | None = None) -> list[Family]:
    """The registered families of these names (all when None), in catalogue order."""
    if families is None:
        return list(FAMILIES)
    unknown = set(families) - set(feature_families())
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}")
    return [family for family in FAMILIES if family.NAME in families]


def feature_catalogue(windows_days: tuple[int, ...], families: tuple[str, ...] | None = None) -> list[FeatureDef]:
    """The features the builder produces for these windows, in output column order; only the given
    families when `families` is set."""
    return [feature for family in wanted_families(families) for feature in family.features(windows_days)]


def feature_families() -> list[str]:
    """Every family name, in catalogue order."""
    return [family.NAME for family in FAMILIES]


def catalogue_markdown(windows_days: tuple[int, ...], families: tuple[str, ...] | None = None) -> str:
    """The catalogue as a Markdown table (the generated docs/features.md)."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated by `kap features-list`; every feature sees only data before the cutoff.",
        "",
        "| name | family | window | kind | definition |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `{d.name}` | {d.family} | {d.window} | {d.kind} | {d.definition} |"
        for d in feature_catalogue(windows_days, families)
    ]
    return "\n".join(lines) + "\n"
