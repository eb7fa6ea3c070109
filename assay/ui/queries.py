"""The viewer's reads: paged, filtered sample lists, their facets, and review items.

Pages are keyset-based on rowid (a page deep in 100k samples costs what the first one does),
every filter is served by an index (migration 0003; free text by the FTS5 index of 0004),
and totals are counted up to a cap.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from assay.pipeline.repair.review import judge_reasons
from assay.pipeline.repair.review_gate import export_facts
from assay.trace.query import COUNT_CAP, reason_clause, text_clause
from assay.trace.view import has_table

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# These expressions must match the ones indexed in migration 0003 exactly.
CLUSTER_SQL = "json_extract(tags, '$.cluster[0]')"
QUALITY_SQL = "json_extract(scores, '$.judge_overall')"
SNIPPET = 160
HEX_ID = re.compile(r"^[0-9a-f]{4,}$")


@dataclass(frozen=True)
class SampleFilter:
    """What the sample browser shows; unset fields match everything."""

    status: str | None = None
    reason: str | None = None  # a reason code
    cluster: str | None = None
    op: str | None = None
    round: int | None = None
    score_min: float | None = None  # on the judge's overall score
    score_max: float | None = None
    q: str | None = None  # text in the messages, or an id prefix

    def as_query(self) -> dict[str, Any]:
        """The set fields, for links that keep the filter."""
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}


def _where(conn: sqlite3.Connection, f: SampleFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("status", f.status), ("op", f.op), ("round", f.round)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if f.reason:
        sql, extra = reason_clause("reason", f.reason)
        clauses.append(sql)
        args += extra
    if f.cluster is not None:
        clauses.append(f"{CLUSTER_SQL} = ?")
        args.append(f.cluster)
    if f.score_min is not None:
        clauses.append(f"{QUALITY_SQL} >= ?")
        args.append(f.score_min)
    if f.score_max is not None:
        clauses.append(f"{QUALITY_SQL} <= ?")
        args.append(f.score_max)
    if f.q:
        text = f.q.strip()
        match, extra = text_clause(conn, "samples_text", "rowid", ("messages",), text)
        args += extra
        if HEX_ID.match(text):
            match = f"({match} OR (id >= ? AND id < ?))"
            args += [text, text[:-1] + chr(ord(text[-1]) + 1)]
        clauses.append(match)
    return clauses, args


def sample_page(conn: sqlite3.Connection, filters: SampleFilter, *, after: int | None = None,
                before: int | None = None, limit: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of samples in insertion order: after a rowid (next page), before one (previous), or the first."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    clauses, args = _where(conn, filters)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    total = conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM samples{where} LIMIT ?)", (*args, COUNT_CAP + 1)).fetchone()[0]
    page_clauses, page_args, order = list(clauses), list(args), "ASC"
    if before is not None:
        page_clauses.append("rowid < ?")
        page_args.append(before)
        order = "DESC"
    elif after is not None:
        page_clauses.append("rowid > ?")
        page_args.append(after)
    page_where = (" WHERE " + " AND ".join(page_clauses)) if page_clauses else ""
    rows = conn.execute(
        f"SELECT rowid, id, op, status, reason, round, source, messages, parent_ids, {QUALITY_SQL} AS quality, "
        f"{CLUSTER_SQL} AS cluster FROM samples{page_where} ORDER BY rowid {order} LIMIT ?", (*page_args, limit + 1)
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    if order == "DESC":
        rows.reverse()
    items = [_summary_row(r) for r in rows]
    has_next = (more if order == "ASC" else bool(items) and _exists_beyond(conn, clauses, args, items[-1]["rowid"], ">"))
    has_prev = (more if order == "DESC" else bool(items) and _exists_beyond(conn, clauses, args, items[0]["rowid"], "<"))
    return {"filters": filters.as_query(), "total": min(total, COUNT_CAP), "total_capped": total > COUNT_CAP,
            "samples": items, "next_after": items[-1]["rowid"] if has_next else None,
            "prev_before": items[0]["rowid"] if has_prev else None}


def _exists_beyond(conn: sqlite3.Connection, clauses: list[str], args: list[Any], rowid: int, op: str) -> bool:
    where = " AND ".join([*clauses, f"rowid {op} ?"])
    return conn.execute(f"SELECT 1 FROM samples WHERE {where} LIMIT 1", (*args, rowid)).fetchone() is not None


def _summary_row(row: sqlite3.Row) -> dict[str, Any]:
    messages = json.loads(row["messages"])
    instruction = next((m["content"] for m in messages if m["role"] == "user"), "")
    return {"rowid": row["rowid"], "id": row["id"], "op": row["op"], "status": row["status"], "reason": row["reason"],
            "round": row["round"], "source": row["source"], "quality": row["quality"], "cluster": row["cluster"],
            "parent_ids": json.loads(row["parent_ids"]),
            "instruction": instruction[:SNIPPET] + ("…" if len(instruction) > SNIPPET else "")}


def facets(conn: sqlite3.Connection) -> dict[str, Any]:
    """The values the sample filters offer, with counts (each an index scan)."""
    from assay.trace.summary import sample_counts

    statuses: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    for row in sample_counts(conn):
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["count"]
        if row["reason"]:
            reasons.setdefault(row["reason"], {})[row["status"]] = row["count"]
    ops: dict[str, int] = {}
    rounds: set[int] = set()
    for round_, op, count in conn.execute("SELECT round, op, COUNT(*) FROM samples GROUP BY round, op"):
        ops[op] = ops.get(op, 0) + count
        if round_ is not None:
            rounds.add(round_)
    clusters = [(r[0], r[1]) for r in conn.execute(
        f"SELECT {CLUSTER_SQL}, COUNT(*) FROM samples WHERE {CLUSTER_SQL} IS NOT NULL GROUP BY 1")]
    clusters.sort(key=lambda kv: (len(str(kv[0])), str(kv[0])))  # "2" before "10"
    return {"statuses": dict(sorted(statuses.items(), key=lambda kv: -kv[1])), "reasons": dict(sorted(reasons.items())),
            "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1])),
            "clusters": [{"cluster": c, "count": n} for c, n in clusters], "rounds": sorted(rounds)}


def pending_count(conn: sqlite3.Connection) -> int:
    """How many review items wait for a person."""
    if not has_table(conn, "review_items"):
        return 0
    return int(conn.execute("SELECT COUNT(*) FROM review_items WHERE status = 'pending'").fetchone()[0])


def review_items(conn: sqlite3.Connection, *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Review items without their payloads: every pending one (oldest first), then the latest decided ones."""
    if not has_table(conn, "review_items"):
        return []
    columns = "id, round, kind, sample_id, parent_id, summary, status, created_at, decided_at, decided_by, note"
    if status is not None:
        rows = conn.execute(f"SELECT {columns} FROM review_items WHERE status = ? ORDER BY id LIMIT ?", (status, limit))
        return [_with_export(conn, dict(r)) for r in rows]
    pending = conn.execute(f"SELECT {columns} FROM review_items WHERE status = 'pending' ORDER BY id LIMIT ?", (limit,))
    decided = conn.execute(f"SELECT {columns} FROM review_items WHERE status != 'pending' ORDER BY id DESC LIMIT ?", (limit,))
    return [_with_export(conn, dict(r)) for r in [*pending, *decided]]


def _with_export(conn: sqlite3.Connection, item: dict[str, Any]) -> dict[str, Any]:
    """An export row says what it writes and what it misses ("8 samples; misses size: 63 of 180")."""
    if item["kind"] == "export":
        payload = json.loads(conn.execute("SELECT payload FROM review_items WHERE id = ?", (item["id"],)).fetchone()[0])
        facts = export_facts(payload)
        missed = f"; misses {'; '.join(facts['missed'])}" if facts["missed"] else ""
        item["export_what"] = f"{facts['selected']} samples{missed}"
    return item


def review_item(conn: sqlite3.Connection, item_id: int) -> dict[str, Any] | None:
    """One review item with its proposed sample and the sample it would replace or grow from."""
    if not has_table(conn, "review_items"):
        return None
    row = conn.execute("SELECT * FROM review_items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        return None
    item = {k: row[k] for k in row.keys() if k != "payload"}  # noqa: SIM118 - a Row iterates values
    payload = json.loads(row["payload"])
    item["proposed"] = payload.get("sample")
    item["extra"] = {k: v for k, v in payload.items() if k != "sample"}
    parent = None
    if row["parent_id"]:
        found = conn.execute("SELECT id, messages, status, reason FROM samples WHERE id = ?", (row["parent_id"],)).fetchone()
        if found is not None:
            parent = {"id": found["id"], "messages": json.loads(found["messages"]), "status": found["status"],
                      "reason": found["reason"]}
    item["parent"] = parent
    item["export"] = export_facts(payload) if row["kind"] == "export" else None
    item["reasons"] = judge_reasons(conn, row["sample_id"], row["parent_id"])
    item["in_pool"] = bool(row["sample_id"]) and conn.execute(
        "SELECT 1 FROM samples WHERE id = ?", (row["sample_id"],)).fetchone() is not None
    return item


def link_target(conn: sqlite3.Connection, sample_id: str) -> str | None:
    """Where a sample id in a text should lead: its page when it is in the pool, the review item
    that proposes it while it waits (a pending rewrite is not a sample yet), else nowhere."""
    if conn.execute("SELECT 1 FROM samples WHERE id = ?", (sample_id,)).fetchone() is not None:
        return f"/samples/{sample_id}"
    item = proposed_by(conn, sample_id)
    return f"/review/{item}" if item is not None else None


def proposed_by(conn: sqlite3.Connection, sample_id: str) -> int | None:
    """The latest review item proposing this sample, if any."""
    if not has_table(conn, "review_items"):
        return None
    row = conn.execute("SELECT id FROM review_items WHERE sample_id = ? ORDER BY id DESC LIMIT 1", (sample_id,)).fetchone()
    return int(row[0]) if row else None


NOT_STATUS_DECISIONS = frozenset({"tag_failed"})


def sample_detail(conn: sqlite3.Connection, sample_id: str) -> dict[str, Any]:
    """A sample's lineage with its decisions and calls, and the decision that explains its status."""
    from assay.trace.view import reason_code, sample_history

    history = sample_history(conn, sample_id)
    node = history["sample"]
    code = reason_code(node["reason"])
    decisions = node["decisions"]
    explaining = [d for d in decisions if code and (reason_code(d["reason"]) == code or d["action"] == "drop")]
    # A failed tagging call annotates a sample; it never decides its status.
    deciding = [d for d in decisions if d["action"] not in NOT_STATUS_DECISIONS]
    history["why"] = (explaining or deciding or [None])[-1]
    history["in_session"] = {n["id"] for n in [*history["ancestors"], node, *history["descendants"]]}
    history["children"] = [n for n in history["descendants"] if node["id"] in n["parent_ids"]]
    return history


def rewrite_diff(conn: sqlite3.Connection, sample_id: str, against: str | None = None) -> dict[str, Any]:
    """A derived sample beside its parent (`against`, default its first parent), with the decisions that made it."""
    from assay.core.errors import AssayError
    from assay.trace.view import node, resolve_sample
    from assay.ui.diff import message_diffs

    child = node(conn, resolve_sample(conn, sample_id))
    parents = child["parent_ids"]
    parent_id = against or (parents[0] if parents else None)
    if parent_id is None:
        raise AssayError(f"sample {child['id']} has no parent to compare with")
    if parent_id not in parents:
        raise AssayError(f"{parent_id} is not a parent of {child['id']}")
    parent = node(conn, parent_id)
    # The parent carries the rewriter's verdict (its reason names the new id); the child, how it entered the pool.
    made_by = [d for d in parent["decisions"] if d["reason"] and child["id"] in d["reason"]]
    made_by += [d for d in child["decisions"] if d["action"].endswith("_applied")]
    return {"sample": child, "parent": parent, "decisions": made_by,
            "diffs": message_diffs(parent["messages"], child["messages"])}
