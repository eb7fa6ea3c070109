"""The review trace logs only decisions that took effect: an item another reviewer decided
between our read and our write is reported, and nothing of the call is written or traced."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

import assay.pipeline.repair.review as review_command
from assay.core.errors import AssayError
from assay.session.proposals import propose, proposals
from assay.pipeline.repair.review import review
from assay.session.session import Session


def two_pending(session: Session) -> list[int]:
    return [propose(session.conn, session.runtime.clock, round=1, kind="repair", summary=f"rewrite {n}",
                    payload={}, sample_id=f"s{n}", parent_id=f"p{n}", auto_approve=False) for n in (1, 2)]


def review_decisions(session: Session) -> list[tuple[str, str]]:
    return [tuple(r) for r in session.conn.execute(
        "SELECT sample_id, action FROM decisions WHERE agent = 'review' ORDER BY id")]


def test_an_item_decided_meanwhile_is_refused_and_nothing_is_traced(session: Session, runtime: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = two_pending(session)
    real = review_command.proposals

    def read_then_race(conn: Any, **filters: Any) -> Any:
        found = real(conn, **filters)
        if filters.get("status") == "pending" and found:
            # Another reviewer (the viewer, a second terminal) rejects the first item right after our read.
            other = sqlite3.connect(session.dir / "session.db")
            with other:
                other.execute("UPDATE review_items SET status = 'rejected', decided_by = 'bob' WHERE id = ?", (first,))
            other.close()
        return found

    monkeypatch.setattr(review_command, "proposals", read_then_race)
    with pytest.raises(AssayError, match=f"{first}.*decided meanwhile"):
        review(session.dir, runtime, approve=[first, second], reject=[], approve_all=False, reject_all=False,
               note=None, by="alice")
    monkeypatch.setattr(review_command, "proposals", real)
    assert review_decisions(session) == []  # no item_approved for a rejection that stands
    assert {p.id: p.status for p in proposals(session.conn)} == {first: "rejected", second: "pending"}


def test_decisions_that_took_effect_are_traced_once(session: Session, runtime: Any) -> None:
    first, second = two_pending(session)
    left, changed = review(session.dir, runtime, approve=[first], reject=[second], approve_all=False,
                           reject_all=False, note="ok", by="alice")
    assert left == [] and changed == {"approved": 1, "rejected": 1}
    assert review_decisions(session) == [("s1", "item_approved"), ("s2", "item_rejected")]
