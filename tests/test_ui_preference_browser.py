"""The viewer's "Preference pairs" page in a real headless Chromium: reached from the overview's
navigation, its counts filled, each pair's diff drawn with the changed words marked, and a pair's
links leading to the chosen sample and to the decision behind it.

Needs Debian's `chromium` and the `playwright` package; screenshots go to $ASSAY_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_preference_pairs import curated
from tests.test_ui_compare import served

from tests.browser_env import CHROMIUM  # skips this module without a browser

from playwright.sync_api import expect, sync_playwright  # noqa: E402 (only once the browser is known to be there)

pytestmark = pytest.mark.browser


def test_the_preference_pairs_page_in_the_browser(tmp_path: Path, runtime) -> None:
    session = curated(tmp_path, runtime, 19)
    shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with served(session.dir) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(60_000)  # a loaded machine
        page.goto(url)
        page.get_by_role("link", name="Preference pairs").click()
        expect(page.locator("h1")).to_have_text("Preference pairs")
        expect(page.get_by_role("link", name="Preference pairs")).to_have_class("active")
        expect(page.locator("#preference-summary")).to_contain_text("3 pairs kept, 1 dropped")
        expect(page.locator("#preference-counts tr:has(td)")).to_have_count(3)
        pairs = page.locator("#preference-pairs .pair")
        expect(pairs).to_have_count(3)
        first = pairs.first
        expect(first.locator("td.left mark")).to_contain_text(["WRONG"])
        expect(first.locator("td.right mark")).to_contain_text(["FIXED"])
        box = first.locator("table.diff").bounding_box()
        assert box is not None and box["width"] > 600  # the side-by-side diff is drawn, not collapsed
        page.screenshot(path=shots / "preference.png", full_page=True)
        chosen = first.locator("a.chosen-link").inner_text()
        first.locator("a.chosen-link").click()
        expect(page.locator("h1")).to_contain_text(chosen)  # the chosen sample's own page
        page.go_back()
        decision = pairs.first.locator("a.decision").first
        href, label = decision.get_attribute("href"), decision.inner_text()  # "#25 rewrite_accepted"
        decision.click()
        expect(page).to_have_url(url + href)
        number, action = label.lstrip("#").split(" ", 1)
        expect(page.locator("h1")).to_contain_text(f"Decision {number}: rewriter → {action}")
        browser.close()
    session.close()
