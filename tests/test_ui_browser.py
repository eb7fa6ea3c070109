"""The viewer end to end in a real headless Chromium: filter to dropped samples, open one, see its reason and
lineage, open a rewrite's diff, approve a pending review item and see the session change.

Needs Debian's `chromium` and the `playwright` package (its own browser download is never used).
Screenshots go to $ASSAY_SCREENSHOTS when set (to look at them), else to the test's tmp folder.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.ui.app import create_app
from assay.ui.server import free_port
from tests.conftest import fixed_runtime
from tests.session_factory import BuiltSession, build_session

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ASSAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:
    pytest.skip("playwright is not installed (pip install playwright; the browser is Debian's chromium)",
                allow_module_level=True)
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set ASSAY_CHROMIUM)", allow_module_level=True)


def make_session(directory: Path) -> BuiltSession:
    """The session under test. One function, so a real `assay run --dry-run --review` session can replace it."""
    return build_session(directory, fixed_runtime({"ASSAY_HOME": str(directory.parent / "home")}))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, BuiltSession]]:
    import uvicorn

    built = make_session(tmp_path / "session")
    port = free_port("127.0.0.1")
    app = create_app(built.dir, fixed_runtime(), reviewer="e2e")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the viewer did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", built
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        opened = browser.new_page(viewport={"width": 1300, "height": 900})
        opened.set_default_timeout(20_000)
        yield opened
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_review_a_session_in_the_browser(served: tuple[str, BuiltSession], page: Page, shots: Path) -> None:
    url, built = served
    page.goto(url)
    expect(page.locator("h1")).to_have_text("Session overview")
    expect(page.locator("#round-3")).to_contain_text("in progress")
    page.screenshot(path=shots / "1-overview.png", full_page=True)

    page.get_by_role("link", name="Samples", exact=True).click()
    page.select_option("select[name=status]", "dropped")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#match-count")).to_have_text("3")
    rows = page.locator("#samples tr:has(td)")
    expect(rows).to_have_count(3)
    expect(rows.locator(".badge.dropped")).to_have_count(3)
    page.screenshot(path=shots / "2-dropped.png", full_page=True)

    page.get_by_role("link", name=built.duplicate).click()
    expect(page.locator("#reason")).to_have_text(f"duplicate_of:{built.seeds[0]}")
    expect(page.locator("#why")).to_contain_text("Decided by dedup → drop")
    expect(page.locator("#lineage .focus")).to_have_text(built.duplicate)
    page.screenshot(path=shots / "3-duplicate.png", full_page=True)

    page.go_back()
    page.get_by_role("link", name=built.repaired).click()
    expect(page.locator("#reason")).to_have_text(f"replaced_by:{built.rewrite}")
    expect(page.locator("#lineage")).to_contain_text(built.rewrite)
    expect(page.locator("#why")).to_contain_text("rewriter → rewrite_accepted")
    page.screenshot(path=shots / "4-replaced.png", full_page=True)

    page.locator("a.diff-link").first.click()
    expect(page.locator("h1")).to_contain_text(f"Rewrite {built.rewrite} against its parent")
    expect(page.locator("#diff td.left mark")).to_have_text(["Sydney."])
    expect(page.locator("#diff td.right mark")).to_contain_text(["Canberra;"])
    page.screenshot(path=shots / "5-diff.png", full_page=True)

    page.get_by_role("link", name="Review").click()
    expect(page.locator("#pending-count")).to_have_text("2")
    item = page.locator(f"#item-{built.pending[0]}")
    item.get_by_role("button", name="Approve").click()
    expect(page.locator("#flash")).to_contain_text("Item approved. 1 still pending.")
    expect(page.locator("#pending-count")).to_have_text("1")
    expect(page.locator(f"#item-{built.pending[0]}")).to_contain_text("approved by e2e")
    page.screenshot(path=shots / "6-review.png", full_page=True)

    conn = sqlite3.connect(built.dir / "session.db")
    statuses = dict(conn.execute("SELECT id, status FROM review_items WHERE round = 3").fetchall())
    conn.close()
    assert statuses == {built.pending[0]: "approved", built.pending[1]: "pending"}
