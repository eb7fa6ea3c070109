"""Read sample files (JSON array, JSONL, Parquet) into Samples, locating every problem.

Each record comes back as a `Read` (a Sample) or an `Invalid` (file, line, field,
message, raw text), so a caller either stops at the first problem or, with
--skip-invalid, keeps going and writes the invalid records to a rejects file.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from assay.errors import InputError
from assay.formats import FieldProblem, detect_format, record_to_sample
from assay.records import FormatName, Sample

DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
Container = str  # "json" | "jsonl" | "parquet"


@dataclass(frozen=True)
class Read:
    """A valid record, converted."""

    sample: Sample
    line: int


@dataclass(frozen=True)
class Invalid:
    """A record that could not be read, with where and why, and its raw text."""

    error: InputError
    raw: str


@dataclass(frozen=True)
class FileShape:
    """How a file was written, so results go back out the same way."""

    container: Container
    format: FormatName


def container_of_name(path: Path) -> Container:
    """The container an output file's extension asks for (JSONL unless .json or .parquet)."""
    suffix = path.suffix.lower()
    return {".parquet": "parquet", ".json": "json"}.get(suffix, "jsonl")


def container_of(path: Path) -> Container:
    """Tell an input's container from its extension, its magic bytes and its first character."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if path.suffix.lower() == ".parquet" or magic == b"PAR1":
        return "parquet"
    inner = path.with_suffix("") if magic.startswith(GZIP_MAGIC) else path
    if inner.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    with _open(path) as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head.startswith(b"[") else "jsonl"


def raw_records(path: str | Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
                ) -> tuple[str, Iterator[tuple[int, Any, str] | Invalid]]:
    """The JSON records of a file (JSONL, JSON array, either gzip-compressed, or Parquet).

    Returns the unit errors are located by ("line" or "row") and, per record, its
    (line or row, parsed record, raw text) or an `Invalid`. Problems with the file as a
    whole raise InputError.
    """
    path = Path(path)
    container = container_of(path)
    reader = {"json": _json_array, "jsonl": _jsonl, "parquet": _parquet}[container]
    return ("row" if container == "parquet" else "line"), _gzip_errors_located(path, reader(path, max_record_bytes))


def read_samples(
    path: str | Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> tuple[FileShape | None, Iterator[Read | Invalid]]:
    """Open a sample file; returns its shape (None if it has no valid record yet) and the records.

    Raises InputError for problems with the file as a whole (missing, empty, not a JSON
    array where one was started); per-record problems come back as `Invalid`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "no such file")
    if path.stat().st_size == 0:
        raise InputError(path, None, "file is empty: no records")
    unit, records_in_file = raw_records(path, max_record_bytes=max_record_bytes)
    first = next(records_in_file, None)
    if first is None:
        raise InputError(path, None, "file holds no records")
    shape_format: list[FormatName] = []

    def convert(item: tuple[int, Any, str] | Invalid) -> Read | Invalid:
        if isinstance(item, Invalid):
            return item
        line, record, raw = item
        try:
            fmt = detect_format(record)
            if shape_format and fmt != shape_format[0]:
                raise FieldProblem("(record)", f"{fmt} record in a {shape_format[0]} file")
            sample = record_to_sample(record, fmt, source=f"{path.name}:{line}")
        except FieldProblem as problem:
            return Invalid(InputError(path, line, str(problem), field=problem.field, unit=unit), raw)
        shape_format[:1] = [fmt]
        return Read(sample, line)

    first_converted = convert(first)
    shape = FileShape(container_of(path), shape_format[0]) if shape_format else None

    def rest() -> Iterator[Read | Invalid]:
        yield first_converted
        for item in records_in_file:
            yield convert(item)

    return shape, rest()


def _too_big(path: Path, line: int, size: int, limit: int, unit: str = "line") -> Invalid:
    message = (
        f"record is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit per record "
        "(raise it with --max-record-mb)"
    )
    return Invalid(InputError(path, line, message, unit=unit), raw=f"<{size} bytes not kept>")


def _decode(path: Path, line: int, data: bytes) -> str | Invalid:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        message = f"not valid UTF-8 (byte 0x{data[err.start]:02x} at column {err.start + 1}); save the file as UTF-8"
        return Invalid(InputError(path, line, message), raw=data.decode("utf-8", "backslashreplace"))


def _open(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip."""
    with path.open("rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _gzip_errors_located(path: Path, records: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from records
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(path, None, f"not a readable gzip file: {err}") from None


def _jsonl(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    with _open(path) as handle:
        for line_no, data in enumerate(handle, start=1):
            if line_no == 1:
                data = data.removeprefix(b"\xef\xbb\xbf")
            if len(data) > limit:
                yield _too_big(path, line_no, len(data), limit)
                continue
            text = _decode(path, line_no, data)
            if isinstance(text, Invalid):
                yield text
                continue
            if not text.strip():
                continue
            try:
                yield line_no, json.loads(text), text.rstrip("\r\n")
            except json.JSONDecodeError as err:
                yield Invalid(InputError(path, line_no, f"invalid JSON: {err.msg} at column {err.colno}"), text.rstrip("\r\n"))


def _json_array(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    with _open(path) as handle:
        data = handle.read().removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(path, line, f"not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column}); save the file as UTF-8") from None
    decoder = json.JSONDecoder()
    pos, line, counted_to = text.index("[") + 1, 1, 0

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    pos = skip(pos)
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            # Inside one array a syntax error leaves no safe place to resume, so it ends the file.
            raise InputError(path, err.lineno, f"invalid JSON: {err.msg} at column {err.colno}") from None
        if end - pos > limit:
            yield _too_big(path, line, end - pos, limit)
        else:
            yield line, record, text[pos:end]
        pos = skip(end)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            return
        where = text.count("\n", 0, pos) + 1
        raise InputError(path, where, "invalid JSON: expected ',' or ']' between records")


def _parquet(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise InputError(path, None, f"not a readable Parquet file: {err}") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            raw = json.dumps(record, ensure_ascii=False, default=str)
            if len(raw) > limit:
                yield _too_big(path, row, len(raw), limit, unit="row")
            else:
                yield row, record, raw
