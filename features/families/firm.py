"""Firm attributes at the cutoff: size (point-in-time from snapshots), age, credit score, industry, country,
region, acquisition channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features import catalogue, sql

if TYPE_CHECKING:
    from features.builder import Sources

NAME = "firm"
READS: frozenset[str] = frozenset()
CREDIT_SCORES = {"AAA": 7, "AA": 6, "A": 5, "BBB": 4, "BB": 3, "B": 2, "CCC": 1}


def features(windows_days: tuple[int, ...]) -> list[catalogue.FeatureDef]:
    """The firm features (the same for every windows)."""
    feature = catalogue.FeatureDef
    return [
        feature("firm_employees", NAME, "asof", "Employees, from the latest snapshot before the cutoff.", "employees"),
        feature("firm_revenue", NAME, "asof", "Annual revenue of the firm, from the latest snapshot before the cutoff.",
                "firm revenue", unit="money", typical="peers"),
        feature("firm_age_years", NAME, "asof", "Years since the firm was founded, at the cutoff.", "company age",
                unit="years"),
        feature("firm_credit_score", NAME, "static",
                f"Credit rating as a score: {', '.join(f'{r}={s}' for r, s in CREDIT_SCORES.items())}.",
                "credit rating score", unit="score"),
        feature("firm_industry", NAME, "static", "Industry.", "industry", "categorical", "text", typical=None),
        feature("firm_country", NAME, "static", "Country.", "country", "categorical", "text", typical=None),
        feature("firm_region", NAME, "static", "Sales region.", "region", "categorical", "text", typical=None),
        feature("firm_channel", NAME, "static", "Acquisition channel.", "acquisition channel", "categorical", "text",
                typical=None),
    ]


def compute(sources: Sources) -> dict[str, np.ndarray]:
    frame = sql.firm_attributes(sources.con, sources.spine, sources.customers, sources.spine_rank)
    values = {name: frame[name].to_numpy() for name in frame.columns if name != "credit_rating"}
    values["firm_credit_score"] = frame["credit_rating"].map(CREDIT_SCORES).to_numpy(dtype=float)
    values["firm_employees"] = sources.size_at_probes("employees")
    values["firm_revenue"] = sources.size_at_probes("annual_revenue")
    return values
