"""What every sample-file reader shares: a file's bytes (gzip or not), and the record refused.

The JSONL/Parquet readers (assay.core.readers) and the JSON array reader
(assay.core.readers_array) both build on these, so they live below both.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from assay.core.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Invalid:
    """A record that could not be read, with where and why, and its raw text."""

    error: InputError
    raw: str


def too_big(path: Path, line: int, size: int, limit: int, unit: str = "line") -> Invalid:
    """A record over the size limit, refused without keeping its text."""
    message = (
        f"record is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit per record "
        "(raise it with --max-record-mb)"
    )
    return Invalid(InputError(path, line, message, unit=unit), raw=f"<{size} bytes not kept>")


def open_bytes(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip."""
    with path.open("rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")
