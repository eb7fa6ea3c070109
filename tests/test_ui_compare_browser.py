"""The viewer's "Synthetic vs real" page in a real headless Chromium: reached from the overview's
navigation, its charts drawn with a size and hover text, its tables filled.

Needs Debian's `chromium` and the `playwright` package; screenshots go to $ASSAY_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.session.session import Session
from tests.test_compare_report import synthetic
from tests.test_report import SEEDS
from tests.test_ui_compare import served

from tests.browser_env import CHROMIUM  # skips this module without a browser

from playwright.sync_api import expect, sync_playwright  # noqa: E402 (only once the browser is known to be there)

pytestmark = pytest.mark.browser


def test_the_comparison_page_in_the_browser(session: Session, tmp_path: Path) -> None:
    session.samples.insert(SEEDS, round=0)
    session.samples.insert([synthetic(i) for i in range(6)], round=1)
    shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with served(session.dir) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(120_000)  # the first view embeds: allow for a loaded machine
        page.goto(url)
        page.get_by_role("link", name="Synthetic vs real").click()
        expect(page.locator("h1")).to_have_text("Synthetic vs real")
        expect(page.locator("#compare-sizes")).to_contain_text("A = seeds: 8 of 8 samples · B = synthetic: 6 of 6")
        rows = page.locator("#compare-marginals tr:has(td)")
        charts = page.locator("#compare-charts svg")
        expect(charts).to_have_count(rows.count())
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150  # drawn, not collapsed
        expect(charts.first.locator("rect title").first).to_contain_text("A: seeds")
        expect(page.get_by_role("link", name="Synthetic vs real")).to_have_class("active")
        page.screenshot(path=shots / "compare.png", full_page=True)
        browser.close()
