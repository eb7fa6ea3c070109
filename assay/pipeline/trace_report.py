"""What `assay trace` reports: a session's summary by round, a decision search, or one sample's lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from assay.core.errors import AssayError
from assay.session.session import Runtime, Session
from assay.trace import query as trace_query, summary as trace_summary, view as trace_view
from assay.trace.redaction import redacted

TraceKind = Literal["summary", "decisions", "lineage"]


def trace_report(directory: Path, runtime: Runtime, *, sample: str | None = None, round: int | None = None,
                 agent: str | None = None, reason: str | None = None, grep: str | None = None,
                 limit: int = 50) -> tuple[TraceKind, dict[str, Any]]:
    """("summary" | "decisions" | "lineage", data): what `assay trace` shows for these options, redacted."""
    kind: TraceKind
    session = Session.open_read_only(directory, runtime)
    try:
        conn = session.conn
        if sample is not None:
            if reason is not None or grep is not None:
                raise AssayError("--sample shows one lineage; --reason and --grep search decisions: use one or the other")
            kind, data = "lineage", trace_view.sample_history(conn, sample, agent=agent, round=round)
        else:
            filters = trace_query.DecisionFilter(round=round, agent=agent, reason=reason, grep=grep)
            if filters.active():
                data = trace_query.find_decisions(conn, filters, limit=limit)
                if round is not None:
                    data["round"] = next((r for r in trace_summary.timeline(conn) if r["round"] == round), None)
                    if data["round"] is None:
                        raise AssayError(f"this session has no round {round}")
                if reason is not None:
                    data["samples_with_reason"] = trace_query.samples_with_reason(conn, reason)
                kind = "decisions"
            else:
                kind, data = "summary", trace_summary.summary(conn)
        return kind, redacted(data, session.redactor)
    finally:
        session.close()
