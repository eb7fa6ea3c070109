"""A session at a glance: the timeline by round, counts by status and reason, review items, spend.

Each figure comes from one grouped query over an index (migration 0003), and the per-agent
totals are summed from the per-round rows rather than counted again: on a session of 100k
samples the whole summary reads a handful of indexes and never a sample's text.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from assay.trace.view import REASON_CODE_SQL, has_table

EVENTS_SHOWN = 200
CALL_FIELDS = ("calls", "cached", "failed", "prompt_tokens", "completion_tokens", "cost_usd", "latency_sum")


def sample_counts(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """(status, reason code, count) rows, largest first; samples without a reason count under None."""
    totals = dict(conn.execute("SELECT status, COUNT(*) FROM samples GROUP BY status").fetchall())
    rows = [{"status": r[0], "reason": r[1], "count": r[2]} for r in conn.execute(
        f"SELECT status, {REASON_CODE_SQL}, COUNT(*) FROM samples WHERE reason IS NOT NULL GROUP BY 1, 2")]
    for status, total in totals.items():
        rest = total - sum(r["count"] for r in rows if r["status"] == status)
        if rest:
            rows.append({"status": status, "reason": None, "count": rest})
    return sorted(rows, key=lambda r: (-r["count"], r["status"], r["reason"] or ""))


def _call_rows(conn: sqlite3.Connection) -> list[tuple[str, str, int, dict[str, float]]]:
    # Grouped in the covering index's order (agent, model, round): no temporary b-tree, no request text read.
    found = []
    for r in conn.execute(
            "SELECT agent, model, COALESCE(round, 0), SUM(outcome != 'cached'), SUM(outcome = 'cached'), "
            "SUM(outcome IN ('error', 'invalid')), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), "
            "SUM(CASE WHEN outcome != 'cached' THEN latency_ms END) FROM llm_calls GROUP BY agent, model, round"):
        found.append((r[0], r[1], r[2], {k: r[3 + i] or 0 for i, k in enumerate(CALL_FIELDS)}))
    return found


def summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """Rounds, counts by status and reason, review items, decisions by agent, LLM spend and the latest events."""
    meta = {r[0]: json.loads(r[1]) for r in conn.execute("SELECT key, value FROM meta") if r[0] != "config"}
    calls = _call_rows(conn)
    rounds = timeline(conn, calls)
    ops: dict[str, int] = defaultdict(int)
    decided: dict[tuple[str, str], int] = defaultdict(int)
    for entry in rounds:
        for op, n in entry["added"].items():
            ops[op] += n
        for d in entry["decisions"]:
            decided[(d["agent"], d["action"])] += d["count"]
    by_model: dict[tuple[str, str], dict[str, float]] = {}
    for agent, model, _round, sums in calls:
        into = by_model.setdefault((agent, model), dict.fromkeys(CALL_FIELDS, 0))
        for k in CALL_FIELDS:
            into[k] += sums[k]
    llm_calls = [{"agent": a, "model": m, **{k: v for k, v in s.items() if k != "latency_sum"},
                  "mean_latency_ms": s["latency_sum"] / s["calls"] if s["calls"] else None}
                 for (a, m), s in sorted(by_model.items())]
    review = []
    if has_table(conn, "review_items"):
        review = [{"status": r[0], "kind": r[1], "count": r[2]} for r in conn.execute(
            "SELECT status, kind, COUNT(*) FROM review_items GROUP BY 1, 2 ORDER BY 1, 2")]
    events = [dict(r) | {"data": json.loads(r["data"])} for r in conn.execute(
        "SELECT * FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id", (EVENTS_SHOWN,))]
    return {
        "session": meta, "rounds": rounds, "samples": sample_counts(conn),
        "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1])),
        "review": review,
        "decisions": [{"agent": a, "action": x, "count": n}
                      for (a, x), n in sorted(decided.items(), key=lambda kv: (kv[0][0], -kv[1]))],
        "llm_calls": llm_calls,
        "spend": {"calls": sum(s["calls"] + s["cached"] for *_, s in calls),
                  "tokens": sum(s["prompt_tokens"] + s["completion_tokens"] for *_, s in calls),
                  "cost_usd": sum(s["cost_usd"] for *_, s in calls)},
        "events": events,
    }


def timeline(conn: sqlite3.Connection, calls: list[tuple[str, str, int, dict[str, float]]] | None = None
             ) -> list[dict[str, Any]]:
    """One entry per round (0 = ingest and screening): the plan, what was added, decided, reviewed and spent."""
    planned = {}
    if has_table(conn, "rounds"):
        for r in conn.execute("SELECT * FROM rounds ORDER BY round"):
            planned[r["round"]] = {
                "action": r["action"], "rationale": r["rationale"], "planner": r["planner"],
                "metrics": json.loads(r["metrics"]), "gap": json.loads(r["gap"]), "outcome": json.loads(r["outcome"]),
                "spend": json.loads(r["spend"]), "started_at": r["started_at"], "finished_at": r["finished_at"],
            }
    added: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for n, op, count in conn.execute("SELECT COALESCE(round, 0), op, COUNT(*) FROM samples GROUP BY round, op"):
        added[n][op] += count
    counted: dict[int, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for n, agent, action, count in conn.execute(
            "SELECT COALESCE(round, 0), agent, action, COUNT(*) FROM decisions GROUP BY round, agent, action"):
        counted[n][(agent, action)] += count
    spent: dict[int, dict[str, float]] = defaultdict(lambda: {"calls": 0, "tokens": 0, "cost_usd": 0.0})
    for _agent, _model, n, sums in calls if calls is not None else _call_rows(conn):
        spent[n]["calls"] += sums["calls"] + sums["cached"]
        spent[n]["tokens"] += sums["prompt_tokens"] + sums["completion_tokens"]
        spent[n]["cost_usd"] += sums["cost_usd"]
    review: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if has_table(conn, "review_items"):
        for n, status, count in conn.execute("SELECT COALESCE(round, 0), status, COUNT(*) FROM review_items GROUP BY 1, 2"):
            review[n][status] += count
    rounds = sorted(set(planned) | set(added) | set(counted) | set(spent) | set(review))
    return [{"round": n, "plan": planned.get(n), "added": dict(added[n]),
             "decisions": [{"agent": a, "action": x, "count": c} for (a, x), c in sorted(counted[n].items())],
             "llm": dict(spent[n]), "review": dict(review[n])} for n in rounds]
