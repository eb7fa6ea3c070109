"""Text search (`assay trace --grep`, the viewer's `q=`) through the FTS5 trigram index of migration 0004:
the index is backfilled and follows inserts, updates and deletes; searches use it and answer as the scan did."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assay.core.records import Message, Origin, Sample, Status
from assay.session.db import connect, migrations
from assay.session.session import Session
from assay.trace import query
from assay.trace.log import Decision
from assay.trace.query import DecisionFilter, find_decisions
from assay.ui.queries import SampleFilter, sample_page

TEXTS = ["The capital of Australia is Canberra.", "Sydney is the largest city.", "50% off, a_b and \"quoted\" text",
         "ÉCOLE normale", "école primaire", "an ax, a box"]


def sample(text: str) -> Sample:
    return Sample.create([Message(role="user", content=text), Message(role="assistant", content="ok")], source="p.jsonl",
                         origin=Origin(format="alpaca"))


def indexed(conn: sqlite3.Connection, table: str, text: str) -> list[int]:
    """The rowids the index alone finds for a text (no LIKE check)."""
    return [r[0] for r in conn.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid", (f'"{text}"',))]


def found(conn: sqlite3.Connection, text: str) -> tuple[list[str], list[int]]:
    """What the viewer's sample search and the trace's decision search answer for a text."""
    samples = [s["id"] for s in sample_page(conn, SampleFilter(q=text), limit=500)["samples"]]
    decisions = [d["id"] for d in find_decisions(conn, DecisionFilter(grep=text), limit=500)["decisions"]]
    return samples, decisions


def test_the_index_follows_inserts_updates_and_deletes(session: Session) -> None:
    conn = session.conn
    first, second = sample("a question about Canberra"), sample("a question about Sydney")
    session.samples.insert([first, second])
    rowid = conn.execute("SELECT rowid FROM samples WHERE id = ?", (first.id,)).fetchone()[0]
    assert indexed(conn, "samples_text", "canberra") == [rowid]
    decision = session.trace.decision(second.id, "judge", "drop", reason="below_quality_floor:1.50")
    assert indexed(conn, "decisions_text", "quality_floor") == [decision]
    batch = [Decision(f"s{i}", "dedup", "drop", f"duplicate_of:{i}") for i in range(1200)]  # three statements
    ids = session.trace.decisions(batch)  # logged a chunk per statement: each id is its decision's
    assert [conn.execute("SELECT reason FROM decisions WHERE id = ?", (i,)).fetchone()[0] for i in ids] == [
        d.reason for d in batch]
    assert len(indexed(conn, "decisions_text", "duplicate_of")) == 1200
    with conn:
        conn.execute("DELETE FROM decisions WHERE agent = 'dedup'")

    with conn:  # an update of the searched text moves it in the index; other updates leave it be
        conn.execute("UPDATE samples SET messages = replace(messages, 'Canberra', 'Perth') WHERE id = ?", (first.id,))
        conn.execute("UPDATE decisions SET reason = 'duplicate_of:x' WHERE id = ?", (decision,))
    session.samples.set_status([first.id], Status.DROPPED, "too_short")
    assert indexed(conn, "samples_text", "canberra") == [] and indexed(conn, "samples_text", "perth") == [rowid]
    assert indexed(conn, "decisions_text", "quality_floor") == [] and indexed(conn, "decisions_text", "duplicate") == [decision]
    assert found(conn, "perth")[0] == [first.id] and found(conn, "duplicate_of")[1] == [decision]

    with conn:
        conn.execute("DELETE FROM samples WHERE id = ?", (first.id,))
        conn.execute("DELETE FROM decisions WHERE id = ?", (decision,))
    assert indexed(conn, "samples_text", "perth") == [] and indexed(conn, "decisions_text", "duplicate") == []
    for table in ("samples_text", "decisions_text"):  # raises if the index and its table disagree anywhere
        conn.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")


@pytest.mark.parametrize("text", ["canberra", "CANBERRA", "the", "50%", "a_b", '"quoted"', "école", "ÉCOLE", "ax",
                                  "a", "nothing like it", "is the largest"])
def test_searches_use_the_index_and_answer_as_the_scan(session: Session, monkeypatch: pytest.MonkeyPatch,
                                                       text: str) -> None:
    samples = [sample(t) for t in TEXTS]
    session.samples.insert(samples)
    for s, t in zip(samples, TEXTS, strict=True):
        session.trace.decision(s.id, "judge", "keep", reason=f"judged: {t[:12]}")
    with_index = found(session.conn, text)
    monkeypatch.setattr(query, "TRIGRAM", 10**9)  # every text "too short" for the index: the LIKE scan
    assert found(session.conn, text) == with_index
    # LIKE folds ASCII case only: É and é stay apart, though the index folds them together
    if text in ("école", "ÉCOLE"):
        assert len(with_index[0]) == 1


def test_a_search_reads_the_index_not_every_row(session: Session) -> None:
    clause, args = query.text_clause(session.conn, "samples_text", "rowid", ("messages",), "canberra")
    plan = [r[3] for r in session.conn.execute(f"EXPLAIN QUERY PLAN SELECT id FROM samples WHERE {clause}", args)]
    assert "SCAN samples" not in plan and any(step.startswith("SCAN samples_text VIRTUAL TABLE") for step in plan), plan
    clause, args = query.text_clause(session.conn, "samples_text", "rowid", ("messages",), "ab")  # too short to index
    assert "samples_text" not in clause


def test_existing_rows_are_backfilled_and_old_read_only_sessions_still_search(tmp_path: Path) -> None:
    path = tmp_path / "session.db"
    raw = sqlite3.connect(path)
    for number, _name, sql in migrations()[:3]:
        raw.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    raw.execute("INSERT INTO samples (id, messages, source, op, parent_ids, created_at)"
                " VALUES ('s1', '[{\"role\": \"user\", \"content\": \"Canberra\"}]', 's', 'seed', '[]', 't')")
    raw.execute("INSERT INTO decisions (ts, sample_id, agent, action, reason)"
                " VALUES ('t', 's1', 'dedup', 'drop', 'duplicate_of:s0')")
    raw.commit()
    old = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # as the viewer opens it: no migration runs
    old.row_factory = sqlite3.Row
    assert found(old, "canberra") == (["s1"], [1]) and found(old, "duplicate") == ([], [1])  # the scan
    old.close()
    raw.close()
    conn = connect(path)
    assert indexed(conn, "samples_text", "canberra") == [1] and indexed(conn, "decisions_text", "duplicate") == [1]
    assert found(conn, "canberra") == (["s1"], [1]) and found(conn, "duplicate") == ([], [1])
