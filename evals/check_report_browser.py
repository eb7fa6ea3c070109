"""Open a session report in headless Chromium, offline, and take a full-page screenshot.

    python evals/check_report_browser.py SESSION/report.html --out shot.png [--width 1280]

Needs Playwright for Python (`pip install playwright`) and a system Chromium (Debian:
`apt-get install chromium`); no browser download is made. The page is opened from a file://
URL in a context with the network off. The check fails (exit 1) when the page logs a console
error, raises a script error, asks for any non-file resource, shows an empty chart, or is
wider than the window (a layout that scrolls sideways).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

SECTIONS = ("targets", "rounds", "scores", "drops", "map", "cost")
LOCAL_SCHEMES = ("file:", "data:", "about:")


def find_chromium(given: str | None) -> str:
    """The Chromium binary to drive: the one given, else the system's."""
    for candidate in (given, shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit("no Chromium found: apt-get install chromium, or pass --chromium PATH")


def check(report: Path, out: Path, width: int, chromium: str) -> list[str]:
    """Load the report, screenshot it, and return the problems found (empty when it is fine)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    remote: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        context = browser.new_context(offline=True, viewport={"width": width, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda err: problems.append(f"script error: {err}"))
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(LOCAL_SCHEMES) else None)
        started = time.perf_counter()
        page.goto(report.resolve().as_uri(), wait_until="load")
        loaded = time.perf_counter() - started
        facts = page.evaluate("""() => ({
            title: document.title,
            sections: [...document.querySelectorAll('h2[id]')].map(h => h.id),
            charts: [...document.querySelectorAll('svg')].map(s => {
                const box = s.getBoundingClientRect(); return [s.getAttribute('aria-label'), box.width, box.height]; }),
            points: document.querySelectorAll('svg circle').length,
            pageWidth: document.documentElement.scrollWidth,
            pageHeight: document.documentElement.scrollHeight,
        })""")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    problems += [f"requested a non-file resource: {url}" for url in remote]
    missing = [s for s in SECTIONS if s not in facts["sections"]]
    if missing:
        problems.append(f"sections missing: {missing}")
    problems += [f"chart {label!r} renders empty ({w:.0f}×{h:.0f})"
                 for label, w, h in facts["charts"] if w < 10 or h < 10]
    if facts["pageWidth"] > width:
        problems.append(f"page is {facts['pageWidth']}px wide in a {width}px window (scrolls sideways)")
    print(f"{report}: loaded in {loaded:.2f} s; title {facts['title']!r}; {len(facts['sections'])} sections; "
          f"{len(facts['charts'])} charts; {facts['points']} svg points; "
          f"page {facts['pageWidth']}×{facts['pageHeight']} px; "
          f"screenshot {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the report.html to open")
    parser.add_argument("--out", type=Path, default=Path("report.png"), help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS pixels")
    parser.add_argument("--chromium", default=None, help="Chromium binary (default: the system's)")
    args = parser.parse_args()
    if not args.report.is_file():
        sys.exit(f"no such report: {args.report}")
    problems = check(args.report, args.out, args.width, find_chromium(args.chromium))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("OK: opens offline with no console error" if not problems else f"FAILED: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
