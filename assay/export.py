"""A session's deliverables: curated.jsonl, rejected.jsonl, lineage.jsonl and report.html.

Curated and rejected samples are written in the user's own record format (originals come
back exactly as read; rewrites and syntheses in the same shape). Rejected records carry an
`_assay` object with the reason; the lineage file links every sample to its parents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.formats import sample_to_record
from assay.judgements import latest_judgements
from assay.records import Sample, Status
from assay.writers import write_jsonl

CURATED, REJECTED, LINEAGE, REPORT = "curated.jsonl", "rejected.jsonl", "lineage.jsonl", "report.html"


def export_session(session: Any, state: Any) -> dict[str, Path]:
    """Write the four files into the session folder (each atomically); returns their paths."""
    folder = Path(session.dir)
    fmt = session.meta("input_format", "alpaca")
    samples = list(session.samples.iter())
    verdicts = latest_judgements(session.conn)
    selected = [s for s in samples if s.status == Status.SELECTED]
    dropped = [s for s in samples if s.status == Status.DROPPED]
    written = {
        "curated": folder / CURATED,
        "rejected": folder / REJECTED,
        "lineage": folder / LINEAGE,
        "report": folder / REPORT,
    }
    write_jsonl(written["curated"], (sample_to_record(s, fmt) for s in selected))
    write_jsonl(written["rejected"], (_rejected_record(s, fmt) for s in dropped))
    write_jsonl(written["lineage"], (_lineage_row(s, verdicts.get(s.id)) for s in samples))
    from assay.report import write_report

    write_report(session, state, written["report"])
    session.trace.event("export", f"exported {len(selected)} curated and {len(dropped)} rejected samples",
                        {k: str(v) for k, v in written.items()})
    return written


def _rejected_record(sample: Sample, fmt: str) -> dict[str, Any]:
    record = dict(sample_to_record(sample, fmt))  # type: ignore[arg-type]
    record["_assay"] = {"id": sample.id, "reason": sample.reason, "op": sample.op, "parent_ids": list(sample.parent_ids)}
    return record


def _lineage_row(sample: Sample, verdict: Any) -> dict[str, Any]:
    return {
        "id": sample.id, "parent_ids": list(sample.parent_ids), "op": sample.op, "source": sample.source,
        "status": sample.status.value, "reason": sample.reason,
        "quality": verdict.overall if verdict is not None and verdict.ok else None,
        "quality_source": verdict.source if verdict is not None and verdict.ok else None,
    }
