"""`assay ingest`'s work once the files are checked: open (or create) the session, store in batches, count, close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.core.config import Config
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.pipeline.intake.check import InputCheck
from assay.pipeline.intake.ingest import IngestReport
from assay.pipeline.intake.stream import ingest_files
from assay.pipeline.progress import Advance, StartTask, no_progress
from assay.session.session import Runtime, Session


@dataclass(frozen=True)
class IngestOutcome:
    """What an ingest added, and the session's folder and size after it."""

    report: IngestReport
    directory: Path
    samples: int


def ingest_into(directory: Path, paths: Sequence[Path], checked: InputCheck, *, skip_invalid: bool, runtime: Runtime,
                config: Config, fields: FieldMap = NO_MAPPING, progress: StartTask = no_progress) -> IngestOutcome:
    """Ingest the files `check_inputs` checked into the session at `directory` (created if new), batch by batch.

    `progress` starts one task, "embedding + storing", over the files' valid records.
    """
    session = Session.open(directory, runtime, config, create=True)
    try:
        advance: list[Advance] = []
        report = ingest_files(session, paths, skip_invalid=skip_invalid, fields=fields, checked=checked,
                              max_record_bytes=int(config.store.max_record_mb * 1e6),
                              on_start=lambda total: advance.append(progress("embedding + storing", total)),
                              on_progress=lambda n: advance[0](n))
        return IngestOutcome(report, session.dir, session.samples.count())
    finally:
        session.close()
