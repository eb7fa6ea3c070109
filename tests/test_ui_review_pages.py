"""The viewer's review pages: a pending rewrite is reachable from its parent's page (no 404), and the
export item says what it writes and which targets it misses."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from assay.core.plan import TargetStatus
from assay.core.records import Status
from assay.pipeline.repair.review_gate import propose_export
from assay.session.session import Session
from assay.ui.app import create_app
from tests.test_review_cli import pending_rewrites

BASE = "http://127.0.0.1:8484"


def viewer(session: Session, runtime: Any) -> TestClient:
    return TestClient(create_app(session.dir, runtime, reviewer="tester"), base_url=BASE, follow_redirects=False)


def test_a_sample_page_links_its_pending_rewrite_to_the_review_item(session: Session, runtime: Any) -> None:
    (item,) = pending_rewrites(session, 1)
    parent, child = session.conn.execute("SELECT parent_id, sample_id FROM review_items").fetchone()
    c = viewer(session, runtime)
    page = c.get(f"/samples/{parent}")
    assert page.status_code == 200
    assert f'<a class="mono" href="/review/{item}">{child}</a>' in page.text
    assert f'href="/samples/{child}"' not in page.text
    for href in set(re.findall(r'href="(/[^"#?]+)', page.text)):
        assert c.get(href, follow_redirects=True).status_code == 200, href
    # A link to the rewrite from anywhere else (the trace, an old bookmark) lands on its review item.
    moved = c.get(f"/samples/{child}")
    assert moved.status_code == 303 and moved.headers["location"] == f"/review/{item}"


def test_an_id_that_leads_nowhere_is_not_a_link(session: Session, runtime: Any) -> None:
    pending_rewrites(session, 1)
    (parent,) = session.conn.execute("SELECT parent_id FROM review_items").fetchone()
    session.trace.decision(parent, "rewriter", "rewrite_rejected", round=1,
                           reason="lost: rewrite 00112233aabbccdd lost to the original")
    page = viewer(session, runtime).get(f"/samples/{parent}").text
    assert 'href="/samples/00112233aabbccdd"' not in page and "00112233aabbccdd</span>" in page


def test_the_export_item_says_what_it_writes_and_which_targets_it_misses(session: Session, runtime: Any) -> None:
    pending_rewrites(session, 3)
    ids = [s.id for s in session.samples.iter()][:2]
    session.samples.set_status(ids, Status.SELECTED, None)
    targets = [TargetStatus(name="size", target=180, achieved=117, met=False, detail="117 samples qualify for 180"),
               TargetStatus(name="mean_quality", target=3.8, achieved=3.4125, met=False),
               TargetStatus(name="zero_contamination", target=0, achieved=0, met=True)]
    propose_export(session, "max_rounds", "stopped after 5 rounds", targets)
    (item,) = [r[0] for r in session.conn.execute("SELECT id FROM review_items WHERE kind = 'export'")]
    c = viewer(session, runtime)
    page = c.get(f"/review/{item}").text
    assert "proposed sample" not in page and "grown from" not in page
    assert "2 curated samples, 1 rejected" in page  # 3 parents in the pool, 2 of them selected
    assert f"{session.dir}/curated.jsonl" in page and f"{session.dir}/report.html" in page
    assert "misses 2:</b> size: 2 selected of 180 (117 qualify); mean_quality: 3.41 vs target 3.80" in page
    assert '<span class="badge met">met</span> zero_contamination' in page
    listing = c.get("/review").text
    assert "2 samples; misses size: 2 selected of 180 (117 qualify); mean_quality: 3.41 vs target 3.80" in listing


def test_a_review_item_page_shows_the_judges_reasons(session: Session, runtime: Any) -> None:
    (item,) = pending_rewrites(session, 1)
    page = viewer(session, runtime).get(f"/review/{item}").text
    assert "judge's reasons" in page and "rewriter rewrite_accepted: accepted: rewrite" in page
    assert "b — B gives the right sum" in page
