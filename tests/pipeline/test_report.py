"""The sales report: plain-words track record, the page's escaping, its embedded data and the run folder."""

import base64
import hashlib
import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.common.errors import DataError
from pipeline.common.report import (
    MANIFEST_FILE,
    PROSPECTS_FILE,
    REPORT_FILE,
    ROW_FIELDS,
    SPEND_BY_MONTH_FILE,
    embedded_json,
    filter_fragment,
    key_accounts_reached,
    probability_histogram,
    sales_report_html,
    track_record,
    write_sales_report,
)
from pipeline.report import run_to_render
from tests.conftest import small_params
from tests.pipeline.report_data import HOSTILE_NAMES, report_pieces, write_run

METRICS = {"model": {"n_positive": 475.0, "n_rows": 12661.0, "recall_at_100": 98 / 475},
           "spend_rank_baseline": {"recall_at_100": 32 / 475}, "spend_rank_90d_baseline": {"recall_at_100": 91 / 475}}


def test_track_record_counts_the_key_accounts_in_each_top_k_and_names_the_strongest_rule():
    assert key_accounts_reached({"recall_at_10": 0.25}, 10, 40) == 10
    assert track_record("2024-01-01", 12, 100, METRICS, "spend_rank_90d_baseline") == (
        "On the test cutoff 2024-01-01, 475 of the 12,661 eligible customers became key accounts within 12 months. "
        "A team calling the model's top 100 would have reached 98 of them; ranking by spend over the last 365 days, "
        "as without the model, 32; the strongest simple rule at that capacity (spend_rank_90d_baseline: ranking by "
        "spend over the last 90 days), 91.")


def test_track_record_names_the_spend_rank_once_when_it_is_the_strongest_rule():
    assert track_record("2024-01-01", 12, 100, METRICS, "spend_rank_baseline").endswith(
        "would have reached 98 of them; ranking by spend over the last 365 days, as without the model and the "
        "strongest simple rule at that capacity, 32.")


DATA_BLOCK = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def embedded_data(page: str) -> dict:
    """The page's data block, labelled fields decoded as the page's script does."""
    blocks = DATA_BLOCK.findall(page)
    assert len(blocks) == 1
    data = json.loads(blocks[0])
    for name in data["labelled"]:
        i = ROW_FIELDS.index(name)
        for row in data["rows"]:
            row[i] = None if row[i] is None else data["labels"][row[i]]
    return data


def field(row: list, name: str):
    return row[ROW_FIELDS.index(name)]


@pytest.fixture(scope="module")
def pieces():
    return report_pieces(60, explain_top=20)


@pytest.fixture(scope="module")
def page(pieces) -> str:
    return sales_report_html(*pieces)


def test_hostile_strings_never_reach_the_page_as_markup(page):
    for name in filter(None, HOSTILE_NAMES):
        assert name not in page
    assert "<img" not in page and "onerror=alert(1)>" not in page
    assert page.count("<script") == 2  # the data block and the page's own script
    assert "Of the list issued on 2024-06-01, 38 of the top 100 became key accounts &lt;by now&gt;." in page
    assert "employees &lt;by now&gt;" in page


def test_the_data_block_holds_every_string_as_text_and_cannot_be_closed_by_data(page, pieces):
    block = DATA_BLOCK.search(page).group(1)
    assert not set(block) & {"<", ">", "&", "\u2028", "\u2029"}
    data = embedded_data(page)
    names = [field(row, "company_name") for row in data["rows"]]
    assert names[:3] == ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "Acme [U+202E]gnp.exe"]
    assert names[3] is None and names[4] == "Bold & Co </script><script>window.pwned=1</script>"
    assert names[6] == "Line\u2028Separator GmbH"
    assert len(data["rows"]) == len(pieces[0]) and data["fields"] == list(ROW_FIELDS)


def test_embedded_json_escapes_what_could_end_a_script_block():
    text = embedded_json({"name": "</script><!-- & \u2028\u2029 >"})
    assert text == '{"name":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028\\u2029 \\u003e"}'
    assert json.loads(text) == {"name": "</script><!-- & \u2028\u2029 >"}
    with pytest.raises(ValueError):
        embedded_json({"spend": float("nan")})


def test_rows_are_compact_arrays_with_missing_values_as_null(pieces):
    prospects, spend, manifest = pieces
    prospects = prospects.copy()
    prospects.loc[1, ["industry", "account_owner", "previous_tier"]] = None
    prospects.loc[1, "previous_rank"] = pd.NA
    prospects.loc[1, "spend_12m"] = 1234.5678
    row = embedded_data(sales_report_html(prospects, spend.drop(index="C00002"), manifest))["rows"][1]
    assert field(row, "industry") is None and field(row, "account_owner") is None
    assert field(row, "previous_rank") is None and field(row, "spend_12m") == 1234.57
    assert [len(reason) for reason in field(row, "reasons")] == [2, 2, 2]
    assert all(round(effect, 3) == effect for _, effect in field(row, "reasons"))
    assert len(field(row, "months")) == 24 and all(isinstance(v, int) for v in field(row, "months"))
    third = embedded_data(sales_report_html(prospects, spend.drop(index="C00002"), manifest))["rows"][2]
    assert field(third, "months") is None  # no monthly spend recorded for it
    unexplained = embedded_data(sales_report_html(prospects, spend, manifest))["rows"][-1]
    assert field(unexplained, "reasons") == []


def test_repeated_labels_travel_once(page):
    block = DATA_BLOCK.search(page).group(1)
    assert block.count('"Germany"') == 1 and block.count('"Jane Doe"') == 1
    assert embedded_data(page)["rows"][0][ROW_FIELDS.index("country")] == "Germany"


def test_no_nan_or_none_in_the_page_for_missing_values():
    prospects, spend, manifest = report_pieces(40, hostile=False)
    prospects.loc[:10, ["company_name", "industry", "region", "account_owner"]] = None
    prospects.loc[:5, "effect_2"] = float("nan")
    page = sales_report_html(prospects, spend, {**manifest, "previous_as_of": None, "gains": [], "drivers": []})
    without_script = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    for word in ("NaN", "None", "nan", "undefined", "Infinity"):
        assert word not in without_script
    assert "No previous run to compare with" in page
    assert 'id="gains-missing"' in page and "No driver summary" in page


def test_the_header_states_freshness_model_and_trust(page):
    assert "Key-account prospects as of 2025-06-01" in page
    assert "Data through <strong>2025-05-29</strong> (3 days before the as-of date)" in page
    assert "Model <strong>key_account_potential</strong>, version <strong>7</strong>" in page
    assert "Spend, last 12 months (EUR)" in page and "Change since 2025-05-01" in page


def test_the_content_security_policy_allows_only_the_page_s_own_script_and_style(page):
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    assert policy.startswith("default-src 'none'; ") and "img-src data:" in policy
    script = re.findall(r"<script>(.*?)</script>", page, re.S)[0]
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    for source, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy
    assert "innerHTML" not in script and "http" not in script.replace("http://www.w3.org/2000/svg", "")
    assert " style=" not in page  # inline style attributes would be blocked by the policy


def test_filter_fragments_open_an_owner_s_accounts(page):
    assert filter_fragment({"owner": "Jane Doe", "tier": "A"}) == "#owner=Jane%20Doe&tier=A"
    assert filter_fragment({"tier": "A", "owner": "O'Brien & Partners"}) == "#owner=O'Brien%20%26%20Partners&tier=A"
    assert filter_fragment({"owner": None}) == "#owner="
    assert filter_fragment({"q": "Ömer"}) == "#q=%C3%96mer"
    assert '<a href="#owner=Jane%20Doe">Jane Doe</a>' in page
    assert '<a href="#owner=">unassigned</a>' in page
    assert "O&#39;Brien &amp; Partners</a>" in page
    with pytest.raises(ValueError, match="unknown report filters"):
        filter_fragment({"colour": "red"})


def test_a_missing_column_or_manifest_key_is_a_data_error(pieces):
    prospects, spend, manifest = pieces
    with pytest.raises(DataError, match="score"):
        sales_report_html(prospects.drop(columns="score"), spend, manifest)
    with pytest.raises(DataError, match="currency"):
        sales_report_html(prospects, spend, {k: v for k, v in manifest.items() if k != "currency"})


@pytest.mark.parametrize("missing", [PROSPECTS_FILE, SPEND_BY_MONTH_FILE, MANIFEST_FILE])
def test_write_sales_report_names_a_missing_run_file(tmp_path, pieces, missing):
    folder = write_run(tmp_path / "2025-06-01", *pieces)
    (folder / missing).unlink()
    with pytest.raises(DataError, match=re.escape(str(folder / missing))):
        write_sales_report(folder)
    assert not (folder / REPORT_FILE).exists()


def test_write_sales_report_writes_the_page_into_the_run_folder(tmp_path, pieces):
    folder = write_run(tmp_path / "2025-06-01", *pieces)
    assert write_sales_report(folder) == folder / REPORT_FILE
    assert embedded_data((folder / REPORT_FILE).read_text(encoding="utf-8"))["currency"] == "EUR"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    with pytest.raises(DataError, match="no such scoring run folder"):
        write_sales_report(tmp_path / "2020-01-01")


def test_the_run_rendered_is_the_latest_or_the_complete_run_of_the_date_asked(tmp_path, pieces):
    runs = tmp_path / "runs"
    for day in ("2025-05-01", "2025-06-01"):
        write_run(runs / day, *pieces)
    (runs / "2025-07-01").mkdir()  # no manifest: not a run
    assert run_to_render(tmp_path) == runs / "2025-06-01"
    (runs / "latest").symlink_to("2025-05-01", target_is_directory=True)
    assert run_to_render(tmp_path) == (runs / "2025-05-01").resolve()
    assert run_to_render(tmp_path, "2025-06-01") == runs / "2025-06-01"
    with pytest.raises(DataError, match="no complete scoring run for 2025-07-01; runs: 2025-05-01, 2025-06-01"):
        run_to_render(tmp_path, "2025-07-01")


def test_the_control_group_is_not_on_the_page(tmp_path, pieces):
    prospects, spend_by_month, manifest = pieces
    held = prospects.assign(holdout=prospects["rank"] == 1)
    folder = write_run(tmp_path / "2025-06-01", held, spend_by_month, manifest)
    page = write_sales_report(folder).read_text(encoding="utf-8")
    withheld = prospects.loc[prospects["rank"] == 1, "customer_id"].iloc[0]
    assert withheld not in page and prospects.loc[prospects["rank"] == 2, "customer_id"].iloc[0] in page


def test_kap_report_renders_a_run_and_exits_2_with_one_line_when_files_are_missing(project, pieces):
    params = project()
    scores = Path(small_params()["data"]["scores_dir"])
    folder = write_run(scores / "runs" / "2025-06-01", *pieces)
    result = CliRunner().invoke(app, ["report", "--params", str(params)])
    assert result.exit_code == 0, result.output
    assert (folder / REPORT_FILE).is_file()
    (folder / SPEND_BY_MONTH_FILE).unlink()
    result = CliRunner().invoke(app, ["report", "--as-of", "2025-06-01", "--params", str(params)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "spend_by_month.parquet: file not found" in result.stderr
    result = CliRunner().invoke(app, ["report", "--as-of", "June", "--params", str(params)])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.stderr


def test_the_templates_ship_with_the_package():
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'pipeline = ["templates/*"]' in pyproject
    templates = Path(__file__).resolve().parents[2] / "pipeline" / "templates"
    assert {p.name for p in templates.iterdir()} >= {"report.html.j2", "report.js", "report.css"}


def test_an_empty_list_and_a_sparse_manifest_still_render(pieces):
    prospects, spend, manifest = pieces
    sparse = {**manifest, "trust": [], "tiers": {}, "data_through": None, "gains": [], "drivers": []}
    page = sales_report_html(prospects.iloc[:0], spend.iloc[:0], sparse)
    assert embedded_data(page)["rows"] == []
    assert "Data through <strong>—</strong>" in page and "treat the list as a suggestion to check" in page


def test_the_chance_histogram_counts_every_customer_in_twenty_bins():
    bars = probability_histogram(pd.Series([0.0, 0.01, 0.049, 0.05, 0.5, 0.999, 1.0, None]))
    assert len(bars) == 20
    counts = [int(bar["label"].split(": ")[1].split()[0]) for bar in bars]
    assert counts[0] == 3 and counts[1] == 1 and counts[10] == 1 and counts[19] == 2 and sum(counts) == 7
    assert bars[0]["label"] == "chance 0–5%: 3 customers"
    assert max(bar["height"] for bar in bars) == bars[0]["height"]
    assert bars[19]["height"] == pytest.approx(bars[0]["height"] * (2 / 3) ** 0.5, abs=0.1)  # square-root scale
