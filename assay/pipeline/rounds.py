"""The `rounds` table: one row per round of the curation loop, its plan, metrics and outcome.

The report and `assay trace` read it; the loop writes a row when it plans a round, merges
what each step did into its outcome, and closes it when the round (or the export) ends.
"""

from __future__ import annotations

import json
from typing import Any

from assay.core.plan import Plan


def record_round(session: Any, round: int, plan: Plan, metrics: dict[str, Any]) -> None:
    """Write the round's plan and the metrics it starts from, with its trace event, in one transaction."""
    with session.conn:
        session.conn.execute(
            "INSERT OR REPLACE INTO rounds (round, action, rationale, planner, metrics, started_at) VALUES (?, ?, ?, ?, ?, ?)",
            (round, plan.action, plan.rationale, plan.planner, json.dumps(metrics), session.runtime.clock().isoformat()),
        )
        session.trace.event("plan", f"round {round}: {plan.action}: {plan.rationale}", plan.model_dump(), round=round)


def record_outcome(session: Any, round: int, *, finished: bool = False, **outcome: Any) -> None:
    """Merge what a step of the round did into its `rounds` row (and close the round).

    Callers inside their own transaction (`with session.conn:`) get the write in it.
    """
    row = session.conn.execute("SELECT outcome FROM rounds WHERE round = ?", (round,)).fetchone()
    merged = {**(json.loads(row["outcome"]) if row else {}), **outcome}
    with session.conn:
        session.conn.execute("UPDATE rounds SET outcome = ?, finished_at = COALESCE(?, finished_at) WHERE round = ?",
                             (json.dumps(merged), session.runtime.clock().isoformat() if finished else None, round))


def close_open_rounds(session: Any) -> None:
    """Close every round still open: the closing round (finish or a stop) ends with the export."""
    with session.conn:
        session.conn.execute("UPDATE rounds SET finished_at = ? WHERE finished_at IS NULL",
                             (session.runtime.clock().isoformat(),))
