"""`assay ingest`'s work once the files are read: open (or create) the session, store, count, close."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assay.core.config import Config
from assay.pipeline.intake.ingest import IngestReport, ReadResult, store_inputs
from assay.pipeline.progress import Advance, StartTask, no_progress
from assay.session.session import Runtime, Session


@dataclass(frozen=True)
class IngestOutcome:
    """What an ingest added, and the session's folder and size after it."""

    report: IngestReport
    directory: Path
    samples: int


def ingest_into(directory: Path, read: ReadResult, *, runtime: Runtime, config: Config,
                progress: StartTask = no_progress) -> IngestOutcome:
    """Store what `read_inputs` read in the session at `directory` (created if new).

    `progress` starts one task, "embedding + storing", once the number of new samples is known.
    """
    session = Session.open(directory, runtime, config, create=True)
    try:
        advance: list[Advance] = []
        report = store_inputs(session, read, on_start=lambda total: advance.append(progress("embedding + storing", total)),
                              on_progress=lambda n: advance[0](n))
        return IngestOutcome(report, session.dir, session.samples.count())
    finally:
        session.close()
