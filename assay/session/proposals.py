"""Proposed changes to the pool (rewrites, syntheses, the export) and their review status.

Every repair and expansion is first a proposal; without `--review` it is approved at once
(`decided_by = "auto"`), with it a person approves or rejects it (`assay review`, the web
viewer). The proposal holds the new sample itself, so nothing enters the pool unapproved.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assay.core.records import Message, Origin, Sample
from assay.trace.log import Clock

Kind = Literal["repair", "expand", "export"]
Verdict = Literal["approved", "rejected"]


@dataclass(frozen=True)
class Proposal:
    """One review item."""

    id: int
    round: int | None
    kind: str
    sample_id: str | None
    parent_id: str | None
    summary: str
    payload: dict[str, Any]
    status: str
    decided_by: str | None = None
    note: str | None = None

    def sample(self) -> Sample:
        """The proposed sample, rebuilt from the payload."""
        data = self.payload["sample"]
        return Sample.create(
            [Message(**m) for m in data["messages"]], source=data["source"], parent_ids=tuple(data["parent_ids"]),
            op=data["op"], tags=data.get("tags", {}), origin=Origin(format=data.get("format", "alpaca")),
        )


def sample_payload(sample: Sample, **extra: Any) -> dict[str, Any]:
    """What a proposal stores of a new sample (enough to rebuild it exactly)."""
    return {"sample": {"messages": [m.model_dump() for m in sample.messages], "source": sample.source,
                       "parent_ids": list(sample.parent_ids), "op": sample.op, "tags": sample.tags,
                       "format": sample.origin.format if sample.origin else "alpaca"}, **extra}


def propose(conn: sqlite3.Connection, clock: Clock, *, round: int | None, kind: Kind, summary: str,
            payload: dict[str, Any], sample_id: str | None = None, parent_id: str | None = None,
            auto_approve: bool) -> int:
    """Add a proposal unless the same one (round, kind, sample) exists; returns its id."""
    found = conn.execute(
        "SELECT id FROM review_items WHERE round IS ? AND kind = ? AND sample_id IS ?", (round, kind, sample_id)
    ).fetchone()
    if found:
        return int(found[0])
    now = clock().isoformat()
    status, decided_at, decided_by = ("approved", now, "auto") if auto_approve else ("pending", None, None)
    with conn:
        cur = conn.execute(
            "INSERT INTO review_items (round, kind, sample_id, parent_id, summary, payload, status, created_at,"
            " decided_at, decided_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (round, kind, sample_id, parent_id, summary, json.dumps(payload), status, now, decided_at, decided_by),
        )
    return int(cur.lastrowid)


def proposals(conn: sqlite3.Connection, *, round: int | None = None, status: str | None = None,
              kind: str | None = None) -> list[Proposal]:
    """Proposals filtered by round, status and kind, oldest first."""
    clauses, args = [], []
    for column, value in (("round", round), ("status", status), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(f"SELECT * FROM review_items{where} ORDER BY id", args).fetchall()
    return [Proposal(r["id"], r["round"], r["kind"], r["sample_id"], r["parent_id"], r["summary"],
                     json.loads(r["payload"]), r["status"], r["decided_by"], r["note"]) for r in rows]


def decide(conn: sqlite3.Connection, clock: Clock, ids: Sequence[int], verdict: Verdict, *, by: str,
           note: str | None = None) -> int:
    """Approve or reject pending proposals; returns how many changed (decided ones stay as they are)."""
    if verdict not in ("approved", "rejected"):
        raise ValueError(f"verdict must be approved or rejected, not {verdict!r}")
    now = clock().isoformat()
    with conn:
        changed = 0
        for item in ids:
            cur = conn.execute(
                "UPDATE review_items SET status = ?, decided_at = ?, decided_by = ?, note = ? "
                "WHERE id = ? AND status = 'pending'", (verdict, now, by, note, item))
            changed += cur.rowcount
    return changed
