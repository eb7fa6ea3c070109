"""`assay trace DIR`: the session summary, a decision search, or one sample's lineage, as Rich views or JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def trace(
    session: Annotated[Path, typer.Argument(help="Session folder.")],
    sample: Annotated[Optional[str], typer.Option("--sample", help="Show this sample's lineage tree with every decision and the LLM calls behind it (id or unique prefix).")] = None,
    round_: Annotated[Optional[int], typer.Option("--round", help="Decisions of this round (0 = ingest and screening), with the round's plan.")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", help="Decisions by this agent or tool: judge, rewriter, synthesizer, dedup, review …")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Decisions with this reason code (duplicate_of matches duplicate_of:<id>), and the samples that carry it.")] = None,
    grep: Annotated[Optional[str], typer.Option("--grep", help="Decisions whose reason, action or sample text contains TEXT.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Decisions shown at most.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Summarise a session's trace by round, search its decisions, or follow one sample through it."""
    from assay.cli.options import runtime
    from assay.cli.render import console
    from assay.pipeline.trace_report import trace_report

    kind, data = trace_report(session, runtime(), sample=sample, round=round_, agent=agent, reason=reason, grep=grep,
                              limit=limit)
    if as_json:
        from assay.core.safe_text import json_text

        sys.stdout.write(json_text(data, indent=2, default=str) + "\n")  # control characters escaped, data unchanged
        return
    console.print(trace_views(kind, data, session.expanduser().resolve()))


def trace_views(kind: str, data: dict[str, Any], directory: Path) -> Any:
    """The rich rendering of a trace report."""
    from assay.cli.trace_render import decisions_view, lineage_view, summary_view

    if kind == "lineage":
        return lineage_view(data)
    if kind == "decisions":
        return decisions_view(data, round_entry=data.get("round"), reason_counts=data.get("samples_with_reason"))
    return summary_view(data, directory)
