"""Ingest: read sample files, validate every record, and add the new ones to the store.

Every file is read and checked before anything is stored, so without --skip-invalid a
bad record stops the ingest with nothing half-written. With it, invalid records go to
`DIR/ingest_rejects.jsonl` (file, line, field, error and the raw text) instead.

`read_inputs` holds what it read in memory: it serves commands over one file of modest size
(judge, screen files, expand) and tests. A pool goes in through `stream.ingest_files`, batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.readers import FileShape, Invalid, read_samples
from assay.core.records import Sample
from assay.pipeline.intake.check import tally
from assay.pipeline.intake.rejects import REJECTS_NAME, RejectsFile
from assay.session.session import Session

__all__ = ["REJECTS_NAME", "FileReport", "IngestReport", "ReadResult", "ingest_event", "read_inputs", "store_inputs"]


@dataclass
class FileReport:
    """What one input file held."""

    path: str
    shape: FileShape | None
    valid: int = 0
    invalid: int = 0
    repeats: int = 0  # records identical to an earlier one (same content id)


@dataclass
class ReadResult:
    """Everything read from the inputs, before storing."""

    samples: list[Sample] = field(default_factory=list)  # distinct by id
    records: list[Sample] = field(default_factory=list)  # every valid record in input order, repeats included
    files: list[FileReport] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    fields: FieldMap = NO_MAPPING  # the --field mapping the files were read with


@dataclass
class IngestReport:
    """The outcome of an ingest."""

    files: list[FileReport]
    added: int
    already_present: int
    invalid: int
    rejects_path: Path | None


def read_inputs(paths: Sequence[str | Path], *, skip_invalid: bool, max_record_bytes: int,
                fields: FieldMap = NO_MAPPING) -> ReadResult:
    """Read and validate all files, their columns mapped by `fields`; raises the first InputError unless `skip_invalid`."""
    result = ReadResult(fields=fields)
    seen: set[str] = set()
    for path in paths:
        shape, records = read_samples(path, max_record_bytes=max_record_bytes, fields=fields)
        report = FileReport(str(path), shape)
        for item in records:
            if tally(item, report, shape, skip_invalid=skip_invalid) is None:
                result.invalid.append(item)  # type: ignore[arg-type]  (tally gives None only for an Invalid)
                continue
            result.records.append(item.sample)
            if item.sample.id in seen:
                report.repeats += 1
                continue
            seen.add(item.sample.id)
            result.samples.append(item.sample)
        result.files.append(report)
    return result


def store_inputs(session: Session, read: ReadResult, *, on_start: Callable[[int], None] | None = None,
                 on_progress: Callable[[int], None] | None = None) -> IngestReport:
    """Add what was read to the session; returns counts. Re-ingesting a file adds nothing."""
    known = session.samples.known(s.id for s in read.samples)
    new = [s for s in read.samples if s.id not in known]
    if on_start is not None:
        on_start(len(new))
    added = session.store.add(new, on_progress=on_progress) if new else []
    rejects = _write_rejects(session.dir / REJECTS_NAME, read.invalid) if read.invalid else None
    report = IngestReport(read.files, len(added), len(read.samples) - len(new), len(read.invalid), rejects)
    session.trace.event("ingest", f"ingested {report.added} new samples from {len(read.files)} file(s)",
                        ingest_event(report, read.fields))
    return report


def _write_rejects(path: Path, invalid: list[Invalid]) -> Path | None:
    """Append invalid records to the rejects file (rewritten atomically)."""
    rejects = RejectsFile(path)
    try:
        for item in invalid:
            rejects.add(item)
    except BaseException as error:
        rejects.abort(error)
        raise
    return rejects.commit()


def ingest_event(report: IngestReport, fields: FieldMap) -> dict[str, Any]:
    """The trace event's data: counts per file, and how the files' columns were read."""
    data: dict[str, Any] = {
        "added": report.added,
        "already_present": report.already_present,
        "invalid": report.invalid,
        "files": [
            {"path": f.path, "format": f.shape.format if f.shape else None, "container": f.shape.container if f.shape else None,
             "valid": f.valid, "invalid": f.invalid, "repeats": f.repeats}
            for f in report.files
        ],
    }
    if fields:  # how the files' columns were read, so the trace can say where each field came from
        data["fields"] = fields.specs()
    return data
