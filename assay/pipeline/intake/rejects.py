"""The ingest's rejects file, `DIR/ingest_rejects.jsonl`: invalid records with file, line, field and error.

Written as the ingest goes, one record at a time, to a temporary file that already holds the
earlier ingests' rejects; renamed over the file once the ingest has finished. A killed
ingest leaves the old file, so its rerun writes each reject once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from assay.core.readers import Invalid
from assay.core.writers import atomic_text

REJECTS_NAME = "ingest_rejects.jsonl"


class RejectsFile:
    """Appends invalid records to the rejects file, which appears (atomically) on `commit`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._writer: Any = None  # the atomic_text context, opened at the first reject
        self._handle: IO[str] | None = None

    def add(self, item: Invalid) -> None:
        """Write one invalid record (file, line or row, field, error, raw text)."""
        if self._handle is None:
            self._writer = atomic_text(self.path)
            self._handle = self._writer.__enter__()
            if self.path.exists():  # earlier ingests' rejects stay first
                with self.path.open(encoding="utf-8") as old:
                    for line in old:
                        if line.strip():
                            self._write(json.loads(line))
        err = item.error
        self._write({"file": err.path, err.unit: err.line, "field": err.field, "error": err.message, "raw": item.raw})
        self.count += 1

    def _write(self, row: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def commit(self) -> Path | None:
        """Put the file in place; returns its path, or None when this ingest rejected nothing."""
        if self._writer is None:
            return None
        writer, self._writer, self._handle = self._writer, None, None
        writer.__exit__(None, None, None)
        return self.path

    def abort(self, error: BaseException) -> None:
        """Drop what this ingest wrote: the file stays as it was."""
        if self._writer is None:
            return
        writer, self._writer, self._handle = self._writer, None, None
        writer.__exit__(type(error), error, error.__traceback__)
