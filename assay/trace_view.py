"""Reading a session's trace: a summary, and one sample's lineage with its decisions and calls."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from assay.errors import AssayError


def summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts by status and reason, events, decisions by agent, and LLM spend."""
    meta = {r[0]: json.loads(r[1]) for r in conn.execute("SELECT key, value FROM meta") if r[0] != "config"}
    statuses = [
        {"status": r[0], "reason": r[1], "count": r[2]}
        for r in conn.execute("SELECT status, reason, COUNT(*) FROM samples GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2")
    ]
    ops = {r[0]: r[1] for r in conn.execute("SELECT op, COUNT(*) FROM samples GROUP BY op ORDER BY 2 DESC")}
    decisions = [
        {"agent": r[0], "action": r[1], "count": r[2]}
        for r in conn.execute("SELECT agent, action, COUNT(*) FROM decisions GROUP BY 1, 2 ORDER BY 1, 3 DESC")
    ]
    calls = [
        {"agent": r[0], "model": r[1], "calls": r[2], "cached": r[3], "failed": r[4], "prompt_tokens": r[5],
         "completion_tokens": r[6], "cost_usd": r[7], "mean_latency_ms": r[8]}
        for r in conn.execute(
            "SELECT agent, model, SUM(outcome != 'cached'), SUM(outcome = 'cached'), SUM(outcome IN ('error', 'invalid')), "
            "SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), AVG(CASE WHEN outcome != 'cached' THEN latency_ms END) "
            "FROM llm_calls GROUP BY 1, 2 ORDER BY 1, 2"
        )
    ]
    events = [dict(r) | {"data": json.loads(r["data"])} for r in conn.execute("SELECT * FROM events ORDER BY id")]
    return {"session": meta, "samples": statuses, "ops": ops, "decisions": decisions, "llm_calls": calls, "events": events}


def sample_history(conn: sqlite3.Connection, sample_id: str) -> dict[str, Any]:
    """A sample's lineage (ancestors and descendants), each with its decisions and LLM calls.

    `sample_id` may be a unique prefix of an id.
    """
    full_id = _resolve(conn, sample_id)
    ancestors: list[str] = []
    frontier = [full_id]
    while frontier:
        parents = [p for sid in frontier for p in json.loads(_row(conn, sid)["parent_ids"])]
        parents = [p for p in parents if p not in ancestors]
        ancestors += parents
        frontier = [p for p in parents if _exists(conn, p)]
    descendants: list[str] = []
    frontier = [full_id]
    while frontier:
        children = [
            r[0] for sid in frontier
            for r in conn.execute("SELECT id FROM samples WHERE parent_ids LIKE ?", (f'%"{sid}"%',))
        ]
        children = [c for c in children if c not in descendants]
        descendants += children
        frontier = children
    return {
        "sample": _node(conn, full_id),
        "ancestors": [_node(conn, i) for i in ancestors if _exists(conn, i)],
        "descendants": [_node(conn, i) for i in descendants],
    }


def _resolve(conn: sqlite3.Connection, prefix: str) -> str:
    rows = conn.execute("SELECT id FROM samples WHERE id LIKE ? LIMIT 2", (prefix + "%",)).fetchall()
    if not rows:
        raise AssayError(f"no sample with id {prefix!r} in this session")
    if len(rows) > 1:
        raise AssayError(f"id prefix {prefix!r} is ambiguous; give more characters")
    return str(rows[0][0])


def _row(conn: sqlite3.Connection, sample_id: str) -> sqlite3.Row:
    return conn.execute("SELECT * FROM samples WHERE id = ?", (sample_id,)).fetchone()


def _exists(conn: sqlite3.Connection, sample_id: str) -> bool:
    return _row(conn, sample_id) is not None


def _node(conn: sqlite3.Connection, sample_id: str) -> dict[str, Any]:
    row = _row(conn, sample_id)
    decisions = [
        dict(r) | {"scores": json.loads(r["scores"]), "call_ids": json.loads(r["call_ids"])}
        for r in conn.execute("SELECT * FROM decisions WHERE sample_id = ? ORDER BY id", (sample_id,))
    ]
    calls = [
        dict(r) | {"request": json.loads(r["request"])}
        for r in conn.execute(
            "SELECT c.* FROM llm_calls c JOIN llm_call_samples s ON s.call_id = c.id WHERE s.sample_id = ? ORDER BY c.id",
            (sample_id,),
        )
    ]
    return {
        "id": row["id"], "op": row["op"], "source": row["source"], "status": row["status"], "reason": row["reason"],
        "parent_ids": json.loads(row["parent_ids"]), "scores": json.loads(row["scores"]), "tags": json.loads(row["tags"]),
        "messages": json.loads(row["messages"]), "created_at": row["created_at"], "decisions": decisions, "llm_calls": calls,
    }
