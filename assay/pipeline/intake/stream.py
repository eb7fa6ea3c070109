"""Ingest in batches: read, validate, drop repeats and samples already stored, embed and store, batch by batch.

Memory holds one batch of records (`[store] ingest_batch`, default 2,000), never the pool.
Each batch is one transaction (its samples, and the ids it has seen); Chroma is fed after
the commit. A killed ingest keeps the batches it committed, and its rerun finds their samples
in the DB: they are neither embedded nor stored again.

Which ids this ingest has met is kept in a temporary SQLite table, not a Python set, so a
record repeating an earlier one (same content id) counts as a repeat of its file, and a
distinct record already in the session (an earlier ingest, or a killed attempt) as already present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.readers import Invalid, Read, read_samples
from assay.core.records import Sample
from assay.pipeline.intake.check import InputCheck, check_inputs, tally
from assay.pipeline.intake.ingest import FileReport, IngestReport, ingest_event
from assay.pipeline.intake.rejects import REJECTS_NAME, RejectsFile
from assay.session.session import Session

DEFAULT_BATCH = 2000
CHUNK = 500  # ids per IN list: under SQLite's bound-parameter limit


def ingest_files(session: Session, paths: Sequence[str | Path], *, skip_invalid: bool, max_record_bytes: int,
                 fields: FieldMap = NO_MAPPING, batch_size: int | None = None, checked: InputCheck | None = None,
                 on_start: Callable[[int], None] | None = None, on_progress: Callable[[int], None] | None = None,
                 after_batch: Callable[[int], None] | None = None) -> IngestReport:
    """Ingest `paths` into the session batch by batch; returns the counts `store_inputs` gives.

    The files are checked first (`checked`, when the caller already did it): without
    `skip_invalid` a bad record stops the ingest before anything is stored. `on_start` gets
    the number of valid records, `on_progress` the records done (embedded, or found stored).
    `after_batch(i)` runs once batch i has committed (tests inject a kill there).
    """
    size = batch_size or session.config.store.ingest_batch
    if size < 1:
        raise ValueError(f"ingest batch size must be at least 1, not {size}")
    check = checked or check_inputs(paths, skip_invalid=skip_invalid, max_record_bytes=max_record_bytes, fields=fields)
    if on_start is not None:
        on_start(check.valid)
    rejects = RejectsFile(session.dir / REJECTS_NAME)
    seen = SeenIds(session.conn)
    files: list[FileReport] = []
    counts = {"added": 0, "already_present": 0, "batch": 0}
    try:
        for path in paths:
            shape, records = read_samples(path, max_record_bytes=max_record_bytes, fields=fields)
            report = FileReport(str(path), shape)
            for chunk in _chunks(records, size):
                samples = _valid(chunk, report, rejects, skip_invalid)
                _store_batch(session, samples, report, seen, counts, on_progress)
                if after_batch is not None:
                    after_batch(counts["batch"])
                counts["batch"] += 1
            files.append(report)
        rejects_path = rejects.commit()
    except BaseException as error:
        rejects.abort(error)
        raise
    finally:
        seen.drop()
    report = IngestReport(files, counts["added"], counts["already_present"], rejects.count, rejects_path)
    session.trace.event("ingest", f"ingested {report.added} new samples from {len(files)} file(s)",
                        ingest_event(report, fields))
    return report


def _chunks(records: Iterator[Read | Invalid], size: int) -> Iterator[list[Read | Invalid]]:
    while chunk := list(islice(records, size)):
        yield chunk


def _valid(chunk: list[Read | Invalid], report: FileReport, rejects: RejectsFile, skip_invalid: bool) -> list[Sample]:
    """The batch's valid samples; invalid records go to the rejects file (or raise without `skip_invalid`)."""
    samples: list[Sample] = []
    for item in chunk:
        sample = tally(item, report, None, skip_invalid=skip_invalid)  # report.shape is None only when the reader's was
        if sample is None:
            rejects.add(item)  # type: ignore[arg-type]  (tally gives None only for an Invalid)
            continue
        samples.append(sample)
    return samples


def _store_batch(session: Session, samples: list[Sample], report: FileReport, seen: SeenIds, counts: dict[str, int],
                 on_progress: Callable[[int], None] | None) -> None:
    """One transaction: mark the batch's ids seen, store (embedding) the ones the session lacks."""
    reported = [0]

    def progress(n: int) -> None:
        reported[0] += n
        if on_progress is not None:
            on_progress(n)

    with session.conn:
        first = seen.first_seen(samples)
        report.repeats += len(samples) - len(first)
        known = session.samples.known(s.id for s in first)
        new = [s for s in first if s.id not in known]
        counts["already_present"] += len(first) - len(new)
        if new:
            counts["added"] += len(session.store.add(new, on_progress=progress))
    if on_progress is not None and len(samples) > reported[0]:
        on_progress(len(samples) - reported[0])  # repeats and stored samples are done too


class SeenIds:
    """The ids this ingest has met, in a temporary table of the session's connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        with conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS ingest_seen (id TEXT PRIMARY KEY) WITHOUT ROWID")
            conn.execute("DELETE FROM temp.ingest_seen")

    def first_seen(self, samples: list[Sample]) -> list[Sample]:
        """The samples whose id this ingest meets for the first time (first occurrence kept), now marked seen."""
        batch: dict[str, Sample] = {}
        for sample in samples:
            batch.setdefault(sample.id, sample)
        ids = list(batch)
        earlier: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            marks = ",".join("?" * len(part))
            earlier.update(r[0] for r in self.conn.execute(f"SELECT id FROM temp.ingest_seen WHERE id IN ({marks})", part))
        fresh = [batch[i] for i in ids if i not in earlier]
        self.conn.executemany("INSERT INTO temp.ingest_seen (id) VALUES (?)", [(s.id,) for s in fresh])
        return fresh

    def drop(self) -> None:
        """Forget the ids (the table lives as long as the connection otherwise)."""
        self.conn.execute("DROP TABLE IF EXISTS temp.ingest_seen")
