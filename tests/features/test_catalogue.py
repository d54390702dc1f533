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
