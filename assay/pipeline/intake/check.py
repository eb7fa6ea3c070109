"""Check input files before anything is stored: every record read and validated, none kept.

`assay run` and `assay ingest` check before the session folder exists (a bad file leaves
nothing behind), and the count of valid records is the total a progress bar's ETA needs.
Memory holds one record at a time, whatever the size of the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from assay.core.field_map import NO_MAPPING, FieldMap
from typing import Protocol

from assay.core.readers import FileShape, Invalid, Read, read_samples
from assay.core.records import Sample


@dataclass
class FileCheck:
    """What one file holds: its shape (from its first valid record) and its valid and invalid records."""

    path: str
    shape: FileShape | None
    valid: int = 0
    invalid: int = 0


@dataclass
class InputCheck:
    """The checked inputs, file by file."""

    files: list[FileCheck] = field(default_factory=list)

    @property
    def valid(self) -> int:
        """Valid records in all files, repeats included."""
        return sum(f.valid for f in self.files)

    @property
    def invalid(self) -> int:
        """Invalid records in all files."""
        return sum(f.invalid for f in self.files)


def check_inputs(paths: Sequence[str | Path], *, skip_invalid: bool, max_record_bytes: int,
                 fields: FieldMap = NO_MAPPING) -> InputCheck:
    """Read and validate every file (columns mapped by `fields`), keeping no record.

    Raises the first InputError unless `skip_invalid`; problems with a file as a whole always raise."""
    check = InputCheck()
    for path in paths:
        shape, records = read_samples(path, max_record_bytes=max_record_bytes, fields=fields)
        report = FileCheck(str(path), shape)
        for item in records:
            tally(item, report, shape, skip_invalid=skip_invalid)
        check.files.append(report)
    return check


class Tally(Protocol):
    """A file's counts as records are read (the check's FileCheck, ingest's FileReport)."""

    shape: FileShape | None
    valid: int
    invalid: int


def tally(item: Read | Invalid, report: Tally, shape: FileShape | None, *, skip_invalid: bool) -> Sample | None:
    """Count one read record on its file's report: its sample if valid, else None (raised unless `skip_invalid`).

    A file whose reader could not tell its shape takes it from its first valid record."""
    if isinstance(item, Invalid):
        if not skip_invalid:
            raise item.error
        report.invalid += 1
        return None
    report.valid += 1
    if report.shape is None:
        report.shape = FileShape(shape.container if shape else "jsonl",
                                 item.sample.origin.format if item.sample.origin else "alpaca")
    return item.sample
