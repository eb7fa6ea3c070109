"""A session's deliverables: curated.jsonl, rejected.jsonl, lineage.jsonl and report.html.

Each sample is written in its own source format (originals exactly as read; rewrites in
their parent's shape, with the parent record's own fields such as `id` or `category`).
Rejected records carry an `_assay` object with the reason; the lineage file links every
sample to its parents. Every sample the session held is in exactly one of curated and
rejected: the pool's samples by status, plus proposed samples that never entered the pool
(a rewrite rejected in review, say).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.core.formats import sample_to_record
from assay.core.records import Origin, Sample, Status
from assay.core.writers import write_jsonl
from assay.pipeline.rounds import close_open_rounds
from assay.session.judgements import latest_judgements
from assay.session.proposals import proposals

if TYPE_CHECKING:
    from assay.pipeline.deps import ReportWriter

CURATED, REJECTED, LINEAGE, REPORT = "curated.jsonl", "rejected.jsonl", "lineage.jsonl", "report.html"


def export_run(deps: Any, state: Any) -> dict[str, Path]:
    """The run's export: close the last round, then write the files with the run's report writer."""
    close_open_rounds(deps.session)
    return export_session(deps.session, state, write_report=deps.write_report)


def export_session(session: Any, state: Any, *, write_report: ReportWriter) -> dict[str, Path]:
    """Write curated, rejected and lineage files into the session folder (each atomically), and the
    report through `write_report` (the report layer's writer, injected);
    returns their paths."""
    folder = Path(session.dir)
    samples = list(session.samples.iter()) + never_pooled(session)
    by_id = {s.id: s for s in samples}
    verdicts = latest_judgements(session.conn)
    selected = [s for s in samples if s.status == Status.SELECTED]
    # Anything not selected is rejected: a sample still active at export (after a stop) is not lost either.
    dropped = [s if s.reason else s.model_copy(update={"reason": "not_selected:still_active_at_export"})
               for s in samples if s.status != Status.SELECTED]
    written = {"curated": folder / CURATED, "rejected": folder / REJECTED, "lineage": folder / LINEAGE}
    write_jsonl(written["curated"], (record_of(s, by_id) for s in selected))
    write_jsonl(written["rejected"], (_rejected_record(s, by_id) for s in dropped))
    write_jsonl(written["lineage"], (_lineage_row(s, verdicts.get(s.id)) for s in samples))
    written["report"] = write_report(session, state, folder / REPORT)
    session.trace.event("export", f"exported {len(selected)} curated and {len(dropped)} rejected samples",
                        {k: str(v) for k, v in written.items()})
    return written


def never_pooled(session: Any) -> list[Sample]:
    """Proposed samples that never entered the pool, dropped with why (rejected, pending, not applied)."""
    items = [p for p in proposals(session.conn) if p.kind != "export" and "sample" in p.payload]
    candidates = [item.sample() for item in items]
    pooled = session.samples.known(s.id for s in candidates)
    found: dict[str, Sample] = {}
    for item, sample in zip(items, candidates, strict=True):
        if sample.id in pooled or sample.id in found:
            continue
        if item.status == "rejected":
            reason = f"{item.kind}_rejected_in_review:{item.note or f'rejected by {item.decided_by}'}"
        elif item.status == "pending":
            reason = f"{item.kind}_pending_review"
        else:
            reason = f"{item.kind}_not_applied"
        found[sample.id] = sample.model_copy(update={"status": Status.DROPPED, "reason": reason})
    return list(found.values())


def record_of(sample: Sample, by_id: dict[str, Sample]) -> dict[str, Any]:
    """The sample in its own format; a rewrite keeps the user's fields of the record it replaces."""
    return sample_to_record(sample, inherit=_inherited(sample, by_id))


def _inherited(sample: Sample, by_id: dict[str, Sample]) -> Origin | None:
    """The origin of the user's record a rewrite stands for (its parent's, up a chain of rewrites)."""
    seen = set()
    while sample.op == "rewrite" and (sample.origin is None or sample.origin.record is None) and sample.parent_ids:
        parent = by_id.get(sample.parent_ids[0])
        if parent is None or parent.id in seen:
            return None
        seen.add(parent.id)
        if parent.origin is not None and parent.origin.record is not None:
            return parent.origin
        sample = parent
    return None


def _rejected_record(sample: Sample, by_id: dict[str, Sample]) -> dict[str, Any]:
    record = dict(record_of(sample, by_id))
    record["_assay"] = {"id": sample.id, "reason": sample.reason, "op": sample.op, "parent_ids": list(sample.parent_ids)}
    return record


def _lineage_row(sample: Sample, verdict: Any) -> dict[str, Any]:
    return {
        "id": sample.id, "parent_ids": list(sample.parent_ids), "op": sample.op, "source": sample.source,
        "status": sample.status.value, "reason": sample.reason,
        "quality": verdict.overall if verdict is not None and verdict.ok else None,
        "quality_source": verdict.source if verdict is not None and verdict.ok else None,
    }
