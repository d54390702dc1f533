"""Every family computes exactly the features it declares, reading only what it declares it reads."""

import pandas as pd
import pytest

from features import sql
from features.builder import build_features
from features.catalogue import FAMILIES, feature_catalogue, feature_families
from features.windows import DayRows
from tests.conftest import customers_frame

WINDOWS = [(30, 90, 180, 365), (90, 365)]
SPINE = pd.DataFrame({"customer_id": ["A", "B", "A", "B"],
                      "cutoff": pd.to_datetime(["2023-01-01", "2023-01-01", "2023-07-01", "2024-01-01"])})


@pytest.fixture
def history(known_history):
    """The known history with product ids (two products of one category on one invoice)."""
    return known_history.assign(product_id=known_history["category"] + "-" + known_history["invoice_id"])


def built(history, windows_days, families=None):
    return build_features(history, customers_frame(["A", "B"]), SPINE, windows_days, families=families)


@pytest.mark.parametrize("windows_days", WINDOWS)
@pytest.mark.parametrize("families", [None, *((name,) for name in feature_families())],
                         ids=lambda families: ",".join(families or ["all"]))
def test_each_family_computes_exactly_the_features_it_declares(history, monkeypatch, windows_days, families):
    computed = {}
    for family in FAMILIES:
        def recording(sources, family=family, compute=family.compute):
            values = compute(sources)
            computed[family.NAME] = list(values)
            return values

        monkeypatch.setattr(family, "compute", recording)
    frame = built(history, windows_days, families)
    expected = feature_catalogue(windows_days, families)
    assert set(computed) == {d.family for d in expected}
    for family, names in computed.items():
        assert sorted(names) == sorted(d.name for d in expected if d.family == family)
    assert list(frame.columns) == ["customer_id", "cutoff", *(d.name for d in expected)]


@pytest.mark.parametrize("windows_days", WINDOWS)
@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.NAME)
def test_a_family_given_only_what_it_reads_computes_what_it_does_among_all_families(history, monkeypatch,
                                                                                     windows_days, family):
    everything = built(history, windows_days)
    rollup = sql.rollup

    def only_what_it_reads(con, request):
        parts = rollup(con, request)
        parts.days.drop({c for c in parts.days.columns
                         if c not in family.READS and not (c.endswith("_mask") and "bought" in family.READS)})
        if "paid" not in family.READS:
            parts.paid = DayRows({}, parts.paid.key[:0])
        if "category_segments" not in family.READS:
            parts.category_segments = {}
        return parts

    monkeypatch.setattr(sql, "rollup", only_what_it_reads)
    alone = built(history, windows_days, (family.NAME,))
    pd.testing.assert_frame_equal(alone, everything[alone.columns])
