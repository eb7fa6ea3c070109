"""Session DB migrations and the trace tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assay.session.db import connect, migrations


def test_fresh_db_gets_every_migration_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations()) >= 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "samples", "events", "decisions", "llm_calls", "llm_call_samples", "llm_cache"} <= tables
    conn.close()
    again = connect(tmp_path / "s.db")  # re-opening applies nothing twice
    assert again.execute("PRAGMA user_version").fetchone()[0] == len(migrations())


def test_newer_db_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "s.db")
    raw.execute("PRAGMA user_version = 999")
    raw.close()
    with pytest.raises(RuntimeError, match="newer than this assay"):
        connect(tmp_path / "s.db")


def test_read_only_connection_cannot_write(tmp_path: Path) -> None:
    connect(tmp_path / "s.db").close()
    ro = connect(tmp_path / "s.db", read_only=True)
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("INSERT INTO meta VALUES ('k', '1')")


def test_trace_records_events_and_decisions_with_injected_clock(session) -> None:
    session.trace.event("round", "round 1 starts", {"n": 3}, round=1)
    session.trace.decision("abc", "judge", "score", reason="clear", scores={"quality": 4.0}, call_ids=[7], round=1)
    event = session.conn.execute("SELECT * FROM events WHERE kind = 'round'").fetchone()
    decision = session.conn.execute("SELECT * FROM decisions").fetchone()
    assert event["ts"].startswith("2026-01-01T00:00:") and event["round"] == 1
    assert (decision["sample_id"], decision["agent"], decision["action"], decision["call_ids"]) == ("abc", "judge", "score", "[7]")


def test_an_sqlite_too_old_for_the_schema_is_one_line_naming_the_versions(tmp_path, monkeypatch) -> None:
    import sqlite3

    from assay.core.errors import AssayError
    from assay.session import db

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(AssayError, match=r"needs SQLite 3\.35\.0 or newer; this Python has 3\.31\.1"):
        db.connect(tmp_path / "session.db")
    assert not (tmp_path / "session.db").exists()  # refused before anything was written
