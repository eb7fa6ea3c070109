"""Searching a session's trace: decisions by round, agent, reason and text; single LLM calls.

Pages are keyset-based (`after` = the last id seen) and totals are counted up to a cap, so
no search reads more of a 100k-sample session than it must. Text is found through the FTS5
trigram indexes of migration 0004 (`samples_text`, `decisions_text`) with LIKE semantics:
a case-insensitive (ASCII) substring, its % and _ literal.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from assay.core.errors import AssayError
from assay.trace.view import has_table

COUNT_CAP = 10_000
TRIGRAM = 3  # the trigram index finds substrings of at least three characters; shorter ones are scanned


@dataclass(frozen=True)
class DecisionFilter:
    """What to look for in the decisions; unset fields match everything."""

    round: int | None = None
    agent: str | None = None
    action: str | None = None
    reason: str | None = None  # a reason code: matches "code" and "code:<details>"
    grep: str | None = None  # in the reason, the action, or the decided sample's text
    sample_id: str | None = None

    def active(self) -> bool:
        """Whether any field narrows the search."""
        return any(v is not None for v in asdict(self).values())


def reason_clause(column: str, code: str) -> tuple[str, list[Any]]:
    """SQL matching a reason code with or without details; a range, so an index on the column serves it."""
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [code, code + ":", code + ";"]


def like_pattern(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % and _ taken literally (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_clause(conn: sqlite3.Connection, index: str, key: str, columns: tuple[str, ...],
                text: str) -> tuple[str, list[Any]]:
    """SQL true for rows whose `columns` hold `text` (LIKE '%text%': ASCII case folded, % and _ literal).

    Through the FTS5 index `index` (keyed by the row's `key`) when it can serve: the index
    yields candidates, and the LIKE, checked on those only, keeps the scan's exact answer (the
    index folds all Unicode case). Text under three characters, or a session DB from before
    migration 0004 opened read-only, is scanned.
    """
    pattern = like_pattern(text)
    like = " OR ".join(f"{column} LIKE ? ESCAPE '\\'" for column in columns)
    like_args: list[Any] = [pattern] * len(columns)
    if len(text) < TRIGRAM or not has_table(conn, index):
        return f"({like})", like_args
    phrase = '"' + text.replace('"', '""') + '"'  # one quoted phrase: the text literally, FTS syntax inert
    return f"({key} IN (SELECT rowid FROM {index} WHERE {index} MATCH ?) AND ({like}))", [phrase, *like_args]


def _where(conn: sqlite3.Connection, f: DecisionFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("round", f.round), ("agent", f.agent), ("action", f.action), ("sample_id", f.sample_id)):
        if value is not None:
            clauses.append(f"d.{column} = ?")
            args.append(value)
    if f.reason is not None:
        sql, extra = reason_clause("d.reason", f.reason)
        clauses.append(sql)
        args += extra
    if f.grep:
        own, own_args = text_clause(conn, "decisions_text", "d.id", ("d.reason", "d.action"), f.grep)
        text, text_args = text_clause(conn, "samples_text", "rowid", ("messages",), f.grep)
        clauses.append(f"({own} OR d.sample_id IN (SELECT id FROM samples WHERE {text}))")
        args += [*own_args, *text_args]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def find_decisions(conn: sqlite3.Connection, filters: DecisionFilter, *, limit: int = 50,
                   after: int | None = None) -> dict[str, Any]:
    """One page of matching decisions, oldest first, with the total (counted up to COUNT_CAP)."""
    where, args = _where(conn, filters)
    total = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM decisions d{where} LIMIT ?)", (*args, COUNT_CAP + 1)).fetchone()[0]
    page_where = where + (" AND " if where else " WHERE ") + "d.id > ?" if after is not None else where
    page_args = [*args, after] if after is not None else args
    rows = [
        dict(r) | {"scores": json.loads(r["scores"]), "call_ids": json.loads(r["call_ids"])}
        for r in conn.execute(f"SELECT d.* FROM decisions d{page_where} ORDER BY d.id LIMIT ?", (*page_args, limit + 1))
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"filters": {k: v for k, v in asdict(filters).items() if v is not None}, "total": min(total, COUNT_CAP),
            "total_capped": total > COUNT_CAP, "decisions": rows, "next_after": rows[-1]["id"] if more else None}


def samples_with_reason(conn: sqlite3.Connection, code: str) -> dict[str, int]:
    """How many samples carry this reason code now, by status."""
    sql, args = reason_clause("reason", code)
    return {r[0]: r[1] for r in conn.execute(f"SELECT status, COUNT(*) FROM samples WHERE {sql} GROUP BY status", args)}


def decision(conn: sqlite3.Connection, decision_id: int) -> dict[str, Any]:
    """One decision with the LLM calls behind it, in full."""
    row = conn.execute("SELECT * FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    if row is None:
        raise AssayError(f"no decision {decision_id} in this session")
    found = dict(row) | {"scores": json.loads(row["scores"]), "call_ids": json.loads(row["call_ids"])}
    found["llm_calls"] = [llm_call(conn, i) for i in found["call_ids"] if _call_exists(conn, i)]
    return found


def llm_call(conn: sqlite3.Connection, call_id: int) -> dict[str, Any]:
    """One LLM call: the request (messages and parameters), the response, tokens, latency, cost, the samples it named."""
    row = conn.execute("SELECT * FROM llm_calls WHERE id = ?", (call_id,)).fetchone()
    if row is None:
        raise AssayError(f"no LLM call {call_id} in this session")
    samples = [r[0] for r in conn.execute("SELECT sample_id FROM llm_call_samples WHERE call_id = ? ORDER BY rowid", (call_id,))]
    return dict(row) | {"request": json.loads(row["request"]), "sample_ids": samples}


def _call_exists(conn: sqlite3.Connection, call_id: int) -> bool:
    return conn.execute("SELECT 1 FROM llm_calls WHERE id = ?", (call_id,)).fetchone() is not None
