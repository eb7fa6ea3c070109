"""The viewer's Review page orders pending items most informative first (`review_priority`: where the
base and refined rubrics disagree, then where the judge was least sure), with each item's score and
reason, by default whenever there is a ranking; `?order=created` gives the old order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from assay.agents.judge import judge_sample
from assay.pipeline.repair.review_gate import propose_export
from assay.pipeline.rubric.priority import review_priority
from assay.pipeline.rubric.refine import RefineOptions, refine
from assay.session.judgements import Judgement, record_judgements
from assay.session.proposals import decide
from assay.session.session import Session
from assay.testing.scripted import scripted_context
from assay.ui.app import create_app
from tests.rubric_world import World, decided_items, expand_item, pending_items, world_session

BASE = "http://127.0.0.1:8484"


def listing(session: Session, runtime: Any, query: str = "") -> str:
    client = TestClient(create_app(session.dir, runtime, reviewer="tester"), base_url=BASE, follow_redirects=False)
    page = client.get(f"/review{query}")
    assert page.status_code == 200
    return page.text


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="item-(\d+)">', page)]


def judged_item(session: Session, k: int, overall: float) -> int:
    """A pending expand item whose proposed sample the judge scored `overall`."""
    item = expand_item(session, k, f"Answer {k}.")
    (sample_id,) = session.conn.execute("SELECT sample_id FROM review_items WHERE id = ?", (item,)).fetchone()
    record_judgements(session.conn, session.runtime.clock, [Judgement(sample_id, "llm", overall, round=1)])
    return item


def test_pending_items_come_most_uncertain_first_with_score_and_reason(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    sure, close, low = judged_item(session, 1, 5.0), judged_item(session, 2, 3.4), judged_item(session, 3, 1.0)
    done = judged_item(session, 4, 3.5)
    decide(session.conn, session.runtime.clock, [done], "approved", by="alice")
    propose_export(session, "targets_met", "all met", [])
    (export,) = [r[0] for r in session.conn.execute("SELECT id FROM review_items WHERE kind = 'export'")]
    ranked = review_priority(session)
    assert [p.item_id for p in ranked] == [close, sure, low]  # 0.1, 1.5 and 2.5 from the keep threshold 3.5
    page = listing(session, runtime)
    assert row_ids(page) == [close, sure, low, export, done]  # unranked pending, then decided, as before
    assert "<b>most informative first</b>" in page and 'href="/review?order=created"' in page
    row = page[page.index(f'<tr id="item-{close}">'):page.index(f'<tr id="item-{sure}">')]
    assert "<b>0.975</b>" in row and "overall 3.4, 0.10 from the keep threshold 3.5" in row
    assert "<b>0.625</b>" in page and "<b>0.375</b>" in page
    created = listing(session, runtime, "?order=created")
    assert row_ids(created) == [sure, close, low, export, done]
    assert "<b>as created</b>" in created and "0.975" not in created and ">priority<" not in created
    session.close()


def test_a_session_without_pending_items_keeps_the_created_order(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    ids = decided_items(session, good=2, padded=1)
    page = listing(session, runtime)
    assert row_ids(page) == sorted(ids["good"] + ids["padded"], reverse=True)  # decided: latest first, as before
    assert 'id="review-order"' not in page and ">priority<" not in page
    session.close()


async def test_items_the_rubrics_disagree_on_come_first_after_a_refinement(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    pending = pending_items(session)
    ctx, _ = scripted_context(session, default=World())
    await refine(session, ctx, ctx, judge_sample, RefineOptions(out=tmp_path / "refined.toml"))
    expected = [pending["padded"], pending["borderline"], pending["concise"]]
    assert [p.item_id for p in review_priority(session)] == expected
    page = listing(session, runtime)
    assert row_ids(page)[:3] == expected
    first = page[page.index(f'<tr id="item-{expected[0]}">'):page.index(f'<tr id="item-{expected[1]}">')]
    assert "base would approve, refined would reject" in first
    session.close()
