"""The viewer's "Synthetic vs real" page, served by the real server (uvicorn on a free port): the
seeds-against-synthetic comparison of a session that expanded, with one chart per marginal, computed
on the first view and kept; and a note for a session that never expanded."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assay.session.session import Session
from tests.conftest import fixed_runtime
from tests.test_compare_report import synthetic
from tests.test_report import SEEDS, Checker
from tests.ui_server import serve_viewer


@contextmanager
def served(directory: Path) -> Iterator[tuple[str, object]]:
    """The viewer of a session folder on a free local port; yields its URL and the app."""
    runtime = fixed_runtime({"ASSAY_HOME": str(directory.parent / "home")})
    with serve_viewer(directory, runtime, reviewer="tester") as (url, app):
        yield url, app


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=120) as answer:  # the first view embeds: allow for a loaded machine
        assert answer.status == 200
        return answer.read().decode("utf-8")


def test_the_viewer_compares_the_seeds_of_a_session_that_expanded_with_its_synthetic_samples(session: Session) -> None:
    session.samples.insert(SEEDS, round=0)
    session.samples.insert([synthetic(i) for i in range(6)], round=1)
    with served(session.dir) as (url, app):
        overview = get(url + "/")
        assert 'href="/compare"' in overview and "Synthetic vs real" in overview  # reachable from every page
        viewer = app.state.viewer  # type: ignore[attr-defined]
        assert "compare" not in viewer._cache  # lazy: nothing computed until the page is opened
        page = get(url + "/compare")
        checker = Checker()
        checker.feed(page)
        checker.close()
        assert checker.errors == [] and checker.stack == []  # well-formed, every tag closed
        assert all(ref.split("=", 1)[1].startswith("/") for ref in checker.remote)  # links stay in the viewer
        assert "A = seeds: 8 of 8 samples · B = synthetic: 6 of 6" in page
        for heading in ("Marginals", "Dependencies", "Embedding distribution", "Diversity", "Novelty", "MMD p-value"):
            assert heading in page
        charts = page[page.index('id="compare-charts"'):page.index("<h2>Dependencies")]
        marginals = page[page.index('id="compare-marginals"'):page.index('id="compare-charts"')]
        rows = marginals.count("<tr>") - 1  # less the header
        assert rows >= 5 and charts.count("<svg") == rows  # one paired-bar chart per marginal (judge scores too, where judged)
        assert charts.count("A: seeds") >= rows and charts.count("B: synthetic") >= rows
        kept = viewer._cache["compare"]
        assert get(url + "/compare") == page and viewer._cache["compare"] is kept  # the second view is the cached one


def test_the_viewer_says_when_a_session_never_expanded(session: Session) -> None:
    session.samples.insert(SEEDS, round=0)
    with served(session.dir) as (url, _):
        page = get(url + "/compare")
    assert 'id="compare-note"' in page and "<svg" not in page
    assert "The session holds 0 synthetic samples and 8 seeds: nothing to compare" in page
