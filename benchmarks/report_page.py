"""Benchmark: the sales page (`report.html`) for a generated run of many customers: its file size, the time to
render it in Python and the time headless Chromium takes to open it (navigation start to the first rendered page
of the table, from the page's own `performance.now()`), plus a screenshot.

    .venv/bin/python -m benchmarks.report_page                          # 20,000 customers, 3 opens
    .venv/bin/python -m benchmarks.report_page --rows 50000 --screenshot docs/report.png

Needs Debian's chromium and chromium-driver (`make browser`). Nothing is asserted: the figures go to docs/report.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.common.report import write_sales_report
from tests.pipeline.report_data import report_pieces, write_run
from tests.pipeline.test_report_browser import CHROMEDRIVER, CHROMIUM, FLAGS


def open_times(url: str, repeats: int, screenshot: Path | None) -> list[float]:
    """Milliseconds from navigation start to the first rendered page, one fresh load per repeat."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory(prefix="kap-chromium-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            times = []
            for _ in range(repeats):
                driver.get("about:blank")
                driver.get(url)
                WebDriverWait(driver, 60).until(lambda d: d.execute_script("return !!window.reportTiming"))
                times.append(driver.execute_script("return window.reportTiming.firstRenderMs"))
            if screenshot is not None:  # tall enough to show the first rows of the table
                driver.set_window_size(1400, 1400)
                driver.save_screenshot(str(screenshot))
        finally:
            driver.quit()
    return times


OPEN_TARGET_MS = 2_000  # the page must open in under 2 s with 20,000 rows


def _page(folder: Path, rows: int) -> tuple[Path, float]:
    run = write_run(folder / f"{rows}" / "2025-06-01", *report_pieces(rows, seed=11, hostile=False))
    started = time.perf_counter()
    page = write_sales_report(run)
    return page, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="eligible customers in the generated run")
    parser.add_argument("--repeats", type=int, default=3, help="fresh opens in Chromium")
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the page as it opens (1400 px wide)")
    args = parser.parse_args()
    reference_rows = max(args.rows // 10, 1)
    with tempfile.TemporaryDirectory() as folder:
        reference, _ = _page(Path(folder), reference_rows)
        page, rendered = _page(Path(folder), args.rows)
        reference_times = open_times(reference.as_uri(), args.repeats, None)
        times = open_times(page.as_uri(), args.repeats, args.screenshot)
        median, reference_median = statistics.median(times), statistics.median(reference_times)
        print(f"rows: {args.rows:,} (reference run in the same process: {reference_rows:,} rows)")
        print(f"report.html: {page.stat().st_size / 1e6:.2f} MB ({page.stat().st_size / reference.stat().st_size:.1f}x "
              "the reference)")
        print(f"written by write_sales_report in {rendered:.2f} s")
        print(f"opened in Chromium to the first rendered page: median {median:.0f} ms "
              f"(runs: {', '.join(f'{t:.0f}' for t in times)}); reference median {reference_median:.0f} ms, "
              f"ratio {median / reference_median:.2f}")
        verdict = "met" if median < OPEN_TARGET_MS else "MISSED"
        print(f"target: opens in under {OPEN_TARGET_MS:,} ms with {args.rows:,} rows: {verdict}")


if __name__ == "__main__":
    main()
