"""The `assay score --report` page in a real headless Chromium, opened from file:// with the network off:
every histogram and the cluster chart render with bars, nothing is fetched, nothing logs an error.

Needs Debian's `chromium` and the `playwright` package (its own browser download is never used).
The screenshot goes to $ASSAY_SCREENSHOTS when set (to look at it), else to the test's tmp folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.test_cli import assay
from tests.test_score_report import HOSTILE, SCRIPT

from tests.browser_env import CHROMIUM  # skips this module without a browser

from playwright.sync_api import sync_playwright  # noqa: E402 (only once the browser is known to be there)

pytestmark = pytest.mark.browser


LOCAL_SCHEMES = ("file:", "data:", "about:")
WIDTH = 1280


def test_the_analysis_page_renders_offline_with_every_histogram(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text((EXAMPLES / "quickstart.jsonl").read_text() + json.dumps(HOSTILE) + "\n")
    out, page_path = tmp_path / "pool.scored.jsonl", tmp_path / "pool.html"
    # With embeddings, as a user runs it by default: clusters and novelty are on the page too.
    assay("score", str(pool), "--out", str(out), "--report", str(page_path), home=tmp_path / "home")
    names = sorted({n for line in out.read_text().splitlines() for n in json.loads(line)["_assay"]["scores"]})
    assert "novelty" in names

    problems: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context(offline=True, viewport={"width": WIDTH, "height": 900}).new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
                else None)
        page.on("pageerror", lambda err: problems.append(f"script error: {err}"))
        page.on("request", lambda r: None if r.url.startswith(LOCAL_SCHEMES) else problems.append(f"fetched {r.url}"))
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        facts = page.evaluate("""() => ({
            sections: [...document.querySelectorAll('h2[id]')].map(h => h.id),
            stats: [...document.querySelectorAll('#statistics ~ .grid svg.chart')].map(s => {
                const box = s.getBoundingClientRect();
                return {name: s.getAttribute('aria-label'), width: box.width, height: box.height,
                        bars: [...s.querySelectorAll('rect')].filter(r => r.getBBox().height > 0 && !r.closest('g')).length};
            }),
            clusterBars: document.querySelectorAll('#clusters ~ svg.chart rect').length,
            scripts: document.querySelectorAll('script').length,
            examples: [...document.querySelectorAll('.example pre')].map(p => p.textContent),
            pageWidth: document.documentElement.scrollWidth,
        })""")
        shots = Path(os.environ.get("ASSAY_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "score_report.png"), full_page=True)
        browser.close()

    assert problems == []
    assert facts["sections"] == ["drops", "statistics", "clusters", "examples", "stages"]
    assert sorted(s["name"] for s in facts["stats"]) == names
    for chart in facts["stats"]:
        # Two legend squares plus at least one bar of data, drawn at a readable size.
        assert chart["width"] >= 300 and chart["height"] >= 150 and chart["bars"] >= 3, chart
    assert facts["clusterBars"] >= 1
    assert facts["scripts"] == 0  # the page runs nothing, the sample's <script> included
    assert any(SCRIPT in text for text in facts["examples"])  # shown as text, escaped in the HTML
    assert facts["pageWidth"] <= WIDTH  # no sideways scrolling
