"""A session's deliverables: curated.jsonl, rejected.jsonl, lineage.jsonl and report.html (and, with
`[tokens] enabled`, token_masks.jsonl: pipeline/export_tokens.py).

Each sample is written in its own source format (originals exactly as read; rewrites in
their parent's shape, with the parent record's own fields such as `id` or `category`).
Rejected records carry an `_assay` object with the reason; the lineage file links every
sample to its parents. Every sample the session held is in exactly one of curated and
rejected: the pool's samples by status, plus proposed samples that never entered the pool
(a rewrite rejected in review, say).

The files are written from DB cursors, BATCH samples at a time, each through a temporary file
renamed into place: memory holds one batch, never the pool, and a kill leaves the old files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.core.records import Sample, Status
from assay.core.writers import write_jsonl
from assay.pipeline.export_records import (Ancestors, lineage_row, never_pooled, ok_verdicts, record_of,
                                           rejected_record)
from assay.pipeline.export_tokens import TOKEN_MASKS, score_curated_tokens, write_curated_masks
from assay.pipeline.rounds import close_open_rounds

if TYPE_CHECKING:
    from assay.pipeline.deps import ReportWriter

__all__ = ["CURATED", "LINEAGE", "REJECTED", "REPORT", "export_run", "export_session", "never_pooled", "record_of"]

CURATED, REJECTED, LINEAGE, REPORT = "curated.jsonl", "rejected.jsonl", "lineage.jsonl", "report.html"
BATCH = 2000  # samples read per cursor batch


def export_run(deps: Any, state: Any) -> dict[str, Path]:
    """The run's export: close the last round, then write the files with the run's report writer.
    With `[tokens] enabled`, the curated samples' tokens are scored first (so the report shows the
    masks) and token_masks.jsonl is written beside curated.jsonl."""
    close_open_rounds(deps.session)
    masked = score_curated_tokens(deps)
    written = export_session(deps.session, state, write_report=deps.write_report)
    if masked is not None:
        written["token_masks"] = write_curated_masks(deps.session, Path(deps.session.dir) / TOKEN_MASKS)
    return written


def export_session(session: Any, state: Any, *, write_report: ReportWriter) -> dict[str, Path]:
    """Write curated, rejected and lineage files into the session folder (each atomically), and the
    report through `write_report` (the report layer's writer, injected);
    returns their paths."""
    folder = Path(session.dir)
    table = session.samples
    extra = never_pooled(session)
    by_id = Ancestors(table, {s.id: s for s in extra})
    written = {"curated": folder / CURATED, "rejected": folder / REJECTED, "lineage": folder / LINEAGE}
    selected = write_jsonl(written["curated"], (record_of(s, by_id) for s in _each(table.batches(status=Status.SELECTED, size=BATCH))))
    # Anything not selected is rejected: a sample still active at export (after a stop) is not lost either.
    not_selected = chain(_each(table.batches(other_than=Status.SELECTED, size=BATCH)), extra)
    dropped = write_jsonl(written["rejected"], (rejected_record(s, by_id) for s in not_selected))
    write_jsonl(written["lineage"], _lineage(session, chain(table.batches(size=BATCH), _batched(extra))))
    written["report"] = write_report(session, state, folder / REPORT)
    session.trace.event("export", f"exported {selected} curated and {dropped} rejected samples",
                        {k: str(v) for k, v in written.items()})
    return written


def _each(batches: Iterator[list[Sample]]) -> Iterator[Sample]:
    for batch in batches:
        yield from batch


def _batched(samples: Sequence[Sample]) -> Iterator[list[Sample]]:
    for start in range(0, len(samples), BATCH):
        yield list(samples[start : start + BATCH])


def _lineage(session: Any, batches: Iterator[list[Sample]]) -> Iterator[dict[str, Any]]:
    """Lineage rows, the verdicts of each batch read with it."""
    for batch in batches:
        verdicts = ok_verdicts(session.conn, [s.id for s in batch])
        for sample in batch:
            yield lineage_row(sample, verdicts.get(sample.id))
