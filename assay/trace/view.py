"""Reading a session's trace: one sample's lineage with its decisions, verdicts and calls.

Every query here is bounded or served by an index (migration 0003), so it stays quick on a
session of 100k samples. The session summary lives in `assay.trace.summary`, decision
searches in `assay.trace.query`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from assay.core.errors import AssayError

# A reason is a code, optionally followed by ':' and details ("duplicate_of:<id>"); counts group by the code.
REASON_CODE_SQL = "CASE WHEN instr(reason, ':') > 0 THEN substr(reason, 1, instr(reason, ':') - 1) ELSE reason END"


def reason_code(reason: str | None) -> str | None:
    """The code of a reason: the part before any ':'."""
    return reason.split(":", 1)[0] if reason else reason


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the session DB has this table (older sessions opened read-only are not migrated)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def sample_history(conn: sqlite3.Connection, sample_id: str, *, agent: str | None = None,
                   round: int | None = None) -> dict[str, Any]:
    """A sample's lineage (ancestors and descendants, and the tree they form), each with its decisions,
    verdicts, review items and LLM calls. `sample_id` may be a unique prefix; `agent` and `round`
    narrow the decisions and calls shown."""
    full_id = resolve_sample(conn, sample_id)
    ancestors: list[str] = []
    frontier = [full_id]
    while frontier:
        parents = [p for sid in frontier for p in _parents(conn, sid)]
        parents = [p for p in dict.fromkeys(parents) if p not in ancestors and p != full_id]
        ancestors += parents
        frontier = [p for p in parents if _exists(conn, p)]
    descendants: list[str] = []
    frontier = [full_id]
    while frontier:
        children = [c for sid in frontier for c in children_of(conn, sid)]
        children = [c for c in dict.fromkeys(children) if c not in descendants and c != full_id]
        descendants += children
        frontier = children
    nodes = {i: node(conn, i, agent=agent, round=round) for i in [*ancestors, full_id, *descendants] if _exists(conn, i)}
    return {
        "sample": nodes[full_id],
        "ancestors": [nodes[i] for i in ancestors if i in nodes],
        "descendants": [nodes[i] for i in descendants],
        "missing_ancestors": [i for i in ancestors if i not in nodes],
        "tree": _tree(nodes, full_id),
    }


def resolve_sample(conn: sqlite3.Connection, prefix: str) -> str:
    """The full id of the one sample whose id starts with `prefix`."""
    prefix = prefix.strip()
    if not prefix:
        raise AssayError("give a sample id (or a unique prefix of one)")
    # A range, not LIKE: LIKE is case-insensitive and so cannot use the primary key's index.
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute("SELECT id FROM samples WHERE id >= ? AND id < ? LIMIT 2", (prefix, upper)).fetchall()
    if not rows:
        raise AssayError(f"no sample with id {prefix!r} in this session")
    if len(rows) > 1:
        raise AssayError(f"id prefix {prefix!r} is ambiguous; give more characters")
    return str(rows[0][0])


def children_of(conn: sqlite3.Connection, sample_id: str) -> list[str]:
    """Ids of the samples derived directly from this one."""
    if has_table(conn, "sample_parents"):
        return [r[0] for r in conn.execute("SELECT child_id FROM sample_parents WHERE parent_id = ? ORDER BY rowid",
                                           (sample_id,))]
    return [r[0] for r in conn.execute("SELECT id FROM samples WHERE parent_ids LIKE ? ORDER BY rowid", (f'%"{sample_id}"%',))]


def _parents(conn: sqlite3.Connection, sample_id: str) -> list[str]:
    row = _row(conn, sample_id)
    return json.loads(row["parent_ids"]) if row else []


def _row(conn: sqlite3.Connection, sample_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM samples WHERE id = ?", (sample_id,)).fetchone()


def _exists(conn: sqlite3.Connection, sample_id: str) -> bool:
    return _row(conn, sample_id) is not None


def node(conn: sqlite3.Connection, sample_id: str, *, agent: str | None = None, round: int | None = None) -> dict[str, Any]:
    """One sample with its decisions, verdicts, review items and the LLM calls that named it."""
    row = _row(conn, sample_id)
    if row is None:
        raise AssayError(f"no sample with id {sample_id!r} in this session")
    narrow, args = [], []
    for column, value in (("agent", agent), ("round", round)):
        if value is not None:
            narrow.append(column)
            args.append(value)
    on_decisions = "".join(f" AND {c} = ?" for c in narrow)
    on_calls = "".join(f" AND c.{c} = ?" for c in narrow)
    decisions = [
        dict(r) | {"scores": json.loads(r["scores"]), "call_ids": json.loads(r["call_ids"])}
        for r in conn.execute(f"SELECT * FROM decisions WHERE sample_id = ?{on_decisions} ORDER BY id", (sample_id, *args))
    ]
    calls = [
        dict(r) | {"request": json.loads(r["request"])}
        for r in conn.execute(
            "SELECT c.* FROM llm_calls c JOIN llm_call_samples s ON s.call_id = c.id "
            f"WHERE s.sample_id = ?{on_calls} ORDER BY c.id", (sample_id, *args),
        )
    ]
    judgements, review = [], []
    if has_table(conn, "judgements"):
        judgements = [dict(r) | {k: json.loads(r[k]) for k in ("scores", "issues", "call_ids")}
                      for r in conn.execute("SELECT * FROM judgements WHERE sample_id = ? ORDER BY id", (sample_id,))]
    if has_table(conn, "review_items"):
        rows = conn.execute("SELECT * FROM review_items WHERE sample_id = ? OR parent_id = ? ORDER BY id", (sample_id, sample_id))
        review = [{k: r[k] for k in r.keys() if k != "payload"} for r in rows]  # noqa: SIM118 - a Row iterates values
    return {
        "id": row["id"], "op": row["op"], "source": row["source"], "status": row["status"], "reason": row["reason"],
        "round": row["round"], "format": row["format"],
        "parent_ids": json.loads(row["parent_ids"]), "scores": json.loads(row["scores"]), "tags": json.loads(row["tags"]),
        "messages": json.loads(row["messages"]), "created_at": row["created_at"], "decisions": decisions,
        "llm_calls": calls, "judgements": judgements, "review_items": review,
    }


def _tree(nodes: dict[str, dict[str, Any]], focus: str) -> list[dict[str, Any]]:
    """The lineage as nested {id, op, status, reason, focus, children}, from the oldest ancestors down."""
    children: dict[str, list[str]] = {i: [] for i in nodes}
    for i, n in nodes.items():
        for p in n["parent_ids"]:
            if p in children:
                children[p].append(i)
    roots = [i for i, n in nodes.items() if not any(p in nodes for p in n["parent_ids"])]

    def build(i: str, seen: frozenset[str]) -> dict[str, Any]:
        n = nodes[i]
        kids = [build(c, seen | {i}) for c in children[i] if c not in seen]
        return {"id": i, "op": n["op"], "status": n["status"], "reason": n["reason"], "focus": i == focus, "children": kids}

    return [build(r, frozenset()) for r in roots]
