"""The sales page in headless Chromium (Debian's chromium and chromium-driver; `make browser` installs them):
counts, paging, sorting, filters through the select boxes and the URL fragment, search, the detail view, hostile
names shown as text, the print layout, and 20,000 rows."""

from __future__ import annotations

import os
import shutil
import tempfile

import pandas as pd
import pytest

from pipeline.common.report import filter_fragment, write_sales_report
from tests.pipeline.report_data import report_pieces, write_run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="browser")]  # one worker, one browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000")
N = 2_000


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e .[dev])"
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    return f"{' and '.join(absent)} missing (make browser installs chromium and chromium-driver)" if absent else None


def require_browser() -> None:
    """Skip when Chromium, its driver or Selenium is missing; fail instead under CI=true, so CI cannot skip."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def driver():
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def run_pieces():
    return report_pieces(N, seed=3)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory, run_pieces) -> str:
    folder = write_run(tmp_path_factory.mktemp("runs") / "2025-06-01", *run_pieces)
    return write_sales_report(folder).as_uri()


def open_page(driver, url: str) -> None:
    """Load `url` afresh (also when only its fragment differs) and wait for the first render."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))


def errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def column(driver, index: int) -> list[str]:
    return [cell.text for cell in driver.find_elements("css selector", f"#rows tr td:nth-child({index})")]


def number(value: str) -> int:
    return int(value.replace(",", ""))


def click_header(driver, key: str) -> None:
    driver.find_element("css selector", f'th[data-sort="{key}"] button').click()


def test_the_page_shows_every_customer_in_pages_without_console_errors(driver, page_url):
    open_page(driver, page_url)
    assert number(text(driver, "match-count")) == N
    assert number(text(driver, "page-count")) == N // 50
    assert len(driver.find_elements("css selector", "#rows tr")) == 50
    assert column(driver, 1)[:3] == ["1", "2", "3"]
    driver.find_element("id", "next").click()
    assert column(driver, 1)[0] == "51" and "page=2" in driver.current_url
    shown = " ".join(driver.find_element("id", "prospects").text.split())
    for word in ("NaN", "None", "null", "undefined"):
        assert word not in shown.split()
    assert errors(driver) == []


def test_sorting_by_score_toggles_between_descending_and_ascending(driver, page_url, run_pieces):
    open_page(driver, page_url)
    click_header(driver, "score")
    scores = [int(s) for s in column(driver, 8)]
    assert scores == sorted(scores, reverse=True) and scores[0] == run_pieces[0]["score"].max()
    assert driver.find_element("css selector", 'th[data-sort="score"]').get_attribute("aria-sort") == "descending"
    click_header(driver, "score")
    scores = [int(s) for s in column(driver, 8)]
    assert scores == sorted(scores) and scores[0] == run_pieces[0]["score"].min()
    click_header(driver, "spend_12m")
    spend = [number(s) for s in column(driver, 7)]
    assert spend == sorted(spend, reverse=True)  # numerically, not as text
    assert errors(driver) == []


def test_filtering_by_owner_in_the_select_box_writes_the_fragment(driver, page_url, run_pieces):
    from selenium.webdriver.support.ui import Select

    open_page(driver, page_url)
    owner = "O'Brien & Partners"
    count = (run_pieces[0]["account_owner"] == owner).sum()
    Select(driver.find_element("id", "filter-owner")).select_by_visible_text(f"{owner} ({count:,})")
    assert number(text(driver, "match-count")) == count
    assert set(column(driver, 6)) == {"O'Brien & Partners"}
    assert driver.current_url.endswith(filter_fragment({"owner": "O'Brien & Partners"}))
    assert driver.find_element("id", "view-link").get_attribute("href").endswith("#owner=O'Brien%20%26%20Partners")


def test_a_fragment_link_opens_an_owner_s_accounts(driver, page_url, run_pieces):
    prospects = run_pieces[0]
    open_page(driver, page_url + filter_fragment({"owner": "Jane Doe", "tier": "A"}))
    expected = ((prospects["account_owner"] == "Jane Doe") & (prospects["tier"] == "A")).sum()
    assert number(text(driver, "match-count")) == expected > 0
    assert set(column(driver, 6)) == {"Jane Doe"} and set(column(driver, 9)) == {"A"}
    assert driver.find_element("id", "filter-tier").get_attribute("value") == '"A"'
    open_page(driver, page_url + filter_fragment({"owner": None}))
    assert number(text(driver, "match-count")) == prospects["account_owner"].isna().sum()
    assert set(column(driver, 6)) == {"unassigned"}
    assert errors(driver) == []


def test_a_fragment_sets_sort_and_page_and_ignores_what_it_does_not_know(driver, page_url, run_pieces):
    open_page(driver, page_url + "#sort=score&dir=asc&page=2")
    assert text(driver, "page-range") == "; showing 51–100"
    assert driver.find_element("css selector", 'th[data-sort="score"]').get_attribute("aria-sort") == "ascending"
    scores = sorted(run_pieces[0]["score"])
    assert [int(s) for s in column(driver, 8)] == scores[50:100]
    open_page(driver, page_url + "#sort=reasons&dir=sideways&page=x&colour=red")
    assert column(driver, 1)[:2] == ["1", "2"] and number(text(driver, "match-count")) == N
    assert errors(driver) == []


def test_search_finds_companies_ids_and_reasons(driver, page_url, run_pieces):
    prospects = run_pieces[0]
    open_page(driver, page_url + filter_fragment({"q": "C00042"}))
    assert number(text(driver, "match-count")) == 1 and column(driver, 1) == ["43"]
    box = driver.find_element("id", "search")
    box.clear()
    box.send_keys("employees")
    expected = prospects[[f"reason_{k}" for k in (1, 2, 3)]].apply(
        lambda r: r.str.contains("employees", regex=False)).any(axis=1).sum()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 5).until(lambda d: number(text(d, "match-count")) == expected)
    assert "q=employees" in driver.current_url


def test_the_detail_view_shows_reasons_bars_sparkline_and_the_change(driver, page_url, run_pieces):
    prospects = run_pieces[0]
    open_page(driver, page_url)
    driver.find_elements("css selector", "#rows tr")[0].click()
    dialog = driver.find_element("id", "detail")
    assert dialog.get_attribute("open") is not None and "customer=C00000" in driver.current_url
    assert len(driver.find_elements("css selector", "#detail-reasons li")) == 3
    bars = driver.find_elements("css selector", "#detail-bars-svg rect")
    assert len(bars) == 3
    assert {bar.get_attribute("class") for bar in bars} <= {"effect-raises", "effect-lowers"}
    assert len(driver.find_elements("css selector", "#detail-sparkline-svg polyline")) == 1
    assert len(driver.find_elements("css selector", "#detail-sparkline-svg circle")) == 24
    driver.find_element("id", "detail-close").click()
    assert "customer=" not in driver.current_url

    new = prospects.loc[prospects["previous_rank"].isna(), "customer_id"].iloc[0]
    open_page(driver, page_url + f"#customer={new}")
    assert text(driver, "detail-change") == "New on the list since the run of 2025-05-01."
    moved = prospects.loc[prospects["previous_rank"].notna()].iloc[0]
    open_page(driver, page_url + f"#customer={moved['customer_id']}")
    assert text(driver, "detail-change").startswith(
        f"Since the run of 2025-05-01: rank {moved['previous_rank']:,} → {moved['rank']:,} (")
    assert errors(driver) == []


def test_rank_movement_shows_arrows_and_new(driver, page_url, run_pieces):
    prospects = run_pieces[0].head(50)
    open_page(driver, page_url)

    def movement(previous, rank: int) -> str:
        if previous is pd.NA:
            return "new"
        return f"▲{previous - rank:,}" if previous > rank else f"▼{rank - previous:,}" if previous < rank else "="

    assert column(driver, 2) == [movement(p, r) for p, r in zip(prospects["previous_rank"], prospects["rank"],
                                                               strict=True)]


def test_hostile_company_names_show_as_text_and_run_nothing(driver, page_url):
    from selenium.common.exceptions import NoAlertPresentException

    open_page(driver, page_url)
    names = [cell.text.split("\n")[0] for cell in driver.find_elements("css selector", "#rows td.company")]
    assert names[:3] == ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "Acme [U+202E]gnp.exe"]
    assert names[3] == "—"
    assert names[4] == "Bold & Co </script><script>window.pwned=1</script>"
    assert names[5] == "<img src=x onerror=window.pwned=1>"
    driver.find_elements("css selector", "#rows tr")[1].click()
    assert text(driver, "detail-title") == "<img src=x onerror=alert(1)>"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert driver.execute_script("return typeof window.pwned") == "undefined"
    assert driver.find_elements("css selector", "#rows img, #detail img") == []
    assert errors(driver) == []


def test_the_print_layout_hides_the_controls(driver, page_url):
    open_page(driver, page_url)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element("css selector", ".controls").is_displayed()
        assert not driver.find_element("css selector", ".pager").is_displayed()
        assert driver.find_element("id", "prospects").is_displayed()
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_a_run_without_a_previous_one_shows_dashes(driver, tmp_path):
    folder = write_run(tmp_path / "2025-06-01", *report_pieces(120, previous_as_of=None))
    open_page(driver, write_sales_report(folder).as_uri() + "#customer=C00007")
    assert text(driver, "detail-change") == "No previous run to compare with."
    assert set(column(driver, 2)) == {"–"}
    assert errors(driver) == []


def test_twenty_thousand_rows_open_and_render_a_screenshot(driver, tmp_path):
    folder = write_run(tmp_path / "2025-06-01", *report_pieces(20_000, seed=5))
    open_page(driver, write_sales_report(folder).as_uri())
    assert number(text(driver, "match-count")) == 20_000 and number(text(driver, "page-count")) == 400
    assert driver.execute_script("return window.reportTiming.firstRenderMs") > 0
    shot = tmp_path / "report.png"
    assert driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert errors(driver) == []


def test_a_missing_browser_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.setattr(f"{__name__}.CHROMEDRIVER", "/nonexistent/chromedriver")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="/nonexistent/chromedriver missing"):
        require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        require_browser()


def test_an_endless_name_stays_three_lines_and_an_unknown_filter_value_reads_as_people_write_it(driver, tmp_path):
    prospects, spend_by_month, manifest = report_pieces(60)
    prospects.loc[0, "company_name"] = "Very Long Name " * 350  # 5,250 characters
    prospects["account_owner"] = prospects["account_owner"].fillna("Jane Doe")  # nobody unassigned
    folder = write_run(tmp_path / "2025-06-01", prospects, spend_by_month, manifest)
    url = write_sales_report(folder).as_uri()
    open_page(driver, url)
    row = driver.find_element("css selector", "#rows tr")
    assert row.size["height"] < 200
    open_page(driver, url + filter_fragment({"owner": None}))
    from selenium.webdriver.support.ui import Select

    assert Select(driver.find_element("id", "filter-owner")).first_selected_option.text == "unassigned (0)"
    assert errors(driver) == []


def test_a_click_anywhere_in_a_header_cell_sorts(driver, page_url):
    open_page(driver, page_url)
    header = driver.find_element("css selector", 'th[data-sort="company_name"]')
    driver.execute_script("arguments[0].click()", header)  # the cell itself, not its button
    assert header.get_attribute("aria-sort") in ("ascending", "descending")
    assert errors(driver) == []
