"""The viewer end to end in a real headless Chromium: filter to dropped samples, open one, see its reason and
lineage, open a rewrite's diff, approve a pending review item and see the session change.

Needs Debian's `chromium` and the `playwright` package (its own browser download is never used).
Screenshots go to $ASSAY_SCREENSHOTS when set (to look at them), else to the test's tmp folder.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import fixed_runtime
from tests.session_factory import BuiltSession, build_session
from tests.ui_server import serve_viewer

from tests.browser_env import CHROMIUM  # skips this module without a browser

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402 (only once the browser is known to be there)

pytestmark = pytest.mark.browser



def make_session(directory: Path) -> BuiltSession:
    """The session under test. One function, so a real `assay run --dry-run --review` session can replace it."""
    return build_session(directory, fixed_runtime({"ASSAY_HOME": str(directory.parent / "home")}))


@contextmanager
def viewer(directory: Path) -> Iterator[str]:
    """The viewer of a session folder, served on a free local port; yields its URL."""
    with serve_viewer(directory, fixed_runtime(), reviewer="e2e") as (url, _):
        yield url


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, BuiltSession]]:
    built = make_session(tmp_path / "session")
    with viewer(built.dir) as url:
        yield url, built


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


def run_cli(*args: str, cwd: Path) -> str:
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([sys.executable, "-m", "assay", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_review_a_real_dry_run_session_in_the_browser(tmp_path: Path, page: Page, shots: Path) -> None:
    from assay.session.proposals import proposals
    from tests.conftest import EXAMPLES

    session = tmp_path / "dry"
    out = run_cli("run", str(EXAMPLES / "pool.jsonl"), "--out", str(session), "--dry-run", "--review",
                  "--target-size", "100", "--quality-floor", "3", cwd=tmp_path)
    assert "paused for review" in out
    with viewer(session) as url:
        page.goto(url + "/samples")
        page.select_option("select[name=status]", "dropped")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("#samples tr:has(td)")
        expect(rows.first).to_be_visible()
        first = rows.first.locator("a").first.inner_text()
        rows.first.locator("a").first.click()
        expect(page.locator("#reason")).not_to_be_empty()
        expect(page.locator("#lineage .focus")).to_have_text(first)
        page.screenshot(path=shots / "dry-1-dropped-sample.png", full_page=True)

        conn = sqlite3.connect(session / "session.db")
        conn.row_factory = sqlite3.Row
        pending = proposals(conn, status="pending")
        conn.close()
        assert len(pending) >= 2 and {p.kind for p in pending} == {"repair"}
        page.goto(url + "/review")
        expect(page.locator("#pending-count")).to_have_text(str(len(pending)))
        page.locator(f"#item-{pending[0].id}").get_by_role("button", name="Approve").click()
        expect(page.locator("#flash")).to_contain_text(f"Item approved. {len(pending) - 1} still pending.")
        for left, item in enumerate(reversed(pending[1:])):
            page.locator(f"#item-{item.id}").get_by_role("button", name="Reject").click()
            remaining = len(pending) - 2 - left
            expect(page.locator("#flash")).to_contain_text(
                f"Item rejected. {remaining} still pending." if remaining else "Item rejected. Nothing pending")
        page.screenshot(path=shots / "dry-2-review.png", full_page=True)
        conn = sqlite3.connect(session / "session.db")
        decided = dict(conn.execute("SELECT id, status FROM review_items").fetchall())
        conn.close()
        assert decided == {p.id: "approved" if p is pending[0] else "rejected" for p in pending}

    run_cli("resume", str(session), cwd=tmp_path)  # applies the approved rewrite (and may pause again later)
    conn = sqlite3.connect(session / "session.db")
    reason = conn.execute("SELECT reason FROM samples WHERE id = ?", (pending[0].parent_id,)).fetchone()[0]
    conn.close()
    assert reason == f"replaced_by:{pending[0].sample_id}"

    with viewer(session) as url:
        page.goto(f"{url}/samples/{pending[0].parent_id}")
        expect(page.locator("#reason")).to_have_text(f"replaced_by:{pending[0].sample_id}")
        page.locator("a.diff-link").first.click()
        expect(page.locator("h1")).to_contain_text(f"Rewrite {pending[0].sample_id} against its parent")
        page.screenshot(path=shots / "dry-3-diff.png", full_page=True)
