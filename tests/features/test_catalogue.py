from pathlib import Path

import pytest

from features.catalogue import catalogue_markdown, feature_catalogue, feature_families
from pipeline.common.config import load_params

REPO = Path(__file__).resolve().parents[2]


def test_generated_catalogue_document_is_up_to_date():
    """docs/features.md is `kap features-list` output: regenerate it when features change."""
    features = load_params(REPO / "params.yaml").features
    expected = catalogue_markdown(features.windows_days, features.families)
    assert (REPO / "docs" / "features.md").read_text(encoding="utf-8") == expected


def test_names_follow_family_measure_window_and_are_unique():
    catalogue = feature_catalogue((30, 90, 180, 365))
    names = [d.name for d in catalogue]
    assert len(names) == len(set(names))
    for feature in catalogue:
        assert feature.name.startswith(feature.family + "_")
        assert feature.definition.endswith((".", ")")) and feature.label


def test_families_filter_and_reject_unknown_names():
    assert {d.family for d in feature_catalogue((365,), ("payment",))} == {"payment"}
    assert "wallet" in feature_families()
    with pytest.raises(ValueError, match="unknown feature families"):
        feature_catalogue((365,), ("nope",))


def test_order_facts_and_comparisons_are_declared_consistently():
    """What a reason says about a window's orders rests on this metadata: each `orders_feature` is an orders count
    of the same window, ending at the cutoff; an `order_value` is money; text has no standing."""
    catalogue = feature_catalogue((30, 90, 180, 365))
    defs = {d.name: d for d in catalogue}
    described = [d for d in catalogue if d.orders_feature]
    assert {d.family for d in described} == {"spend", "orders", "order", "cadence"}
    for feature in described:
        count = defs[feature.orders_feature]
        assert count.orders_feature == count.name and count.family == "orders"
        assert count.window == feature.window and feature.window_days > 0
    assert all(d.orders_feature and d.unit == "money" for d in catalogue if d.order_value)
    assert all(d.typical is None for d in catalogue if d.kind == "categorical")
    assert defs["order_value_max_90d"].window_words == "in the last 90 days"
    assert defs["order_value_max_all"].window_words == "to date"
    with pytest.raises(ValueError, match="does not end at the cutoff"):
        _ = defs["spend_sum_prev_90d"].window_days
