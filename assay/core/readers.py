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
from typing import Any

from assay.core import json_values
from assay.core.errors import AssayError, InputError
from assay.core.field_map import NO_MAPPING, FieldMap, MappingProblem
from assay.core.formats import FieldProblem, detect_format, record_to_sample
from assay.core.json_values import ValueProblem
from assay.core.raw_input import GZIP_MAGIC, Invalid, open_bytes, too_big  # Invalid: re-exported for callers
from assay.core.readers_array import json_array
from assay.core.readers_delimited import delimited, delimiter_of
from assay.core.records import FormatName, Sample

DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
Container = str  # "json" | "jsonl" | "parquet" | "csv"


@dataclass(frozen=True)
class Read:
    """A valid record, converted."""

    sample: Sample
    line: int


@dataclass(frozen=True)
class FileShape:
    """How a file was written, so results go back out the same way."""

    container: Container
    format: FormatName


OUTPUT_CONTAINERS: dict[str, Container] = {".jsonl": "jsonl", ".json": "json", ".parquet": "parquet"}


def container_of_name(path: Path) -> Container:
    """The container an output file's extension names; any other extension is refused, never
    silently written as JSONL under a name that promises something else."""
    container = OUTPUT_CONTAINERS.get(path.suffix.lower())
    if container is None:
        named = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise AssayError(f"{path}: {named}; assay writes {', '.join(OUTPUT_CONTAINERS)} (the extension picks the format)")
    return container


def require_file(path: Path) -> None:
    """Raise InputError unless `path` is a file: a folder is named as one, with a few data files in it."""
    if path.is_file():
        return
    if not path.is_dir():
        raise InputError(path, None, "no such file")
    inside = sorted(p.name for p in path.iterdir() if p.is_file() and _looks_like_data(p.name))
    hint = f"; data files in it: {', '.join(inside[:5])}{' …' if len(inside) > 5 else ''}" if inside else \
        "; it holds no .jsonl, .json, .parquet, .csv or .tsv file"
    raise InputError(path, None, f"is a directory, not a sample file: name one file{hint}")


def _looks_like_data(name: str) -> bool:
    lowered = name.lower().removesuffix(".gz")
    return lowered.endswith((".jsonl", ".ndjson", ".json", ".parquet", ".csv", ".tsv"))


def container_of(path: Path) -> Container:
    """Tell an input's container from its extension, its magic bytes and its first character."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if path.suffix.lower() == ".parquet" or magic == b"PAR1":
        return "parquet"
    if delimiter_of(path):
        return "csv"  # CSV or TSV, by the extension
    inner = path.with_suffix("") if magic.startswith(GZIP_MAGIC) else path
    if inner.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    try:
        with open_bytes(path) as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(path, None, f"not a readable gzip file: {err}") from None
    return "json" if head.startswith(b"[") else "jsonl"


def raw_records(path: str | Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, fields: FieldMap = NO_MAPPING
                ) -> tuple[str, Iterator[tuple[int, Any, str] | Invalid]]:
    """The JSON records of a file (JSONL, JSON array, CSV or TSV, any of them gzip-compressed, or Parquet).

    Returns the unit errors are located by ("line" or "row") and, per record, its
    (line or row, parsed record, raw text) or an `Invalid`. `fields` (`--field`) renames each
    record's mapped keys to the canonical ones; a CSV/TSV header lacking a mapped column is an
    error for the file, a record lacking a mapped key an `Invalid`. Problems with the file as a
    whole raise InputError.
    """
    path = Path(path)
    container = container_of(path)
    unit = "row" if container == "parquet" else "line"
    if container == "csv":
        items = delimited(path, max_record_bytes, fields)
    else:
        items = {"json": json_array, "jsonl": _jsonl, "parquet": _parquet}[container](path, max_record_bytes)
    items = _gzip_errors_located(path, items)
    return unit, _mapped(path, items, fields, unit, container) if fields else items


def _mapped(path: Path, items: Iterator[tuple[int, Any, str] | Invalid], fields: FieldMap, unit: str,
            container: Container) -> Iterator[tuple[int, Any, str] | Invalid]:
    """Each record with `fields` applied; one lacking a mapped key comes back as an Invalid naming it."""
    for index, item in enumerate(items):
        if isinstance(item, Invalid):
            yield item
            continue
        line, record, raw = item
        try:
            yield line, fields.apply(record), raw
        except MappingProblem as problem:
            at = f" (record [{index}] of the array)" if container == "json" else ""
            yield Invalid(InputError(path, line, f"{problem}{at}", field=problem.field, unit=unit), raw)


def read_samples(
    path: str | Path, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, fields: FieldMap = NO_MAPPING
) -> tuple[FileShape | None, Iterator[Read | Invalid]]:
    """Open a sample file; returns its shape (None if it has no valid record yet) and the records.

    `fields` maps the file's column or key names onto the canonical ones (`--field`).

    Raises InputError for problems with the file as a whole (missing, empty, not a JSON
    array where one was started); per-record problems come back as `Invalid`.
    """
    path = Path(path)
    require_file(path)
    if path.stat().st_size == 0:
        raise InputError(path, None, "file is empty: no records")
    container = container_of(path)
    unit, records_in_file = raw_records(path, max_record_bytes=max_record_bytes, fields=fields)
    numbered = enumerate(records_in_file)
    first = next(numbered, None)
    if first is None:
        raise InputError(path, None, "file holds no records")
    shape_format: list[FormatName] = []

    def convert(index: int, item: tuple[int, Any, str] | Invalid) -> Read | Invalid:
        if isinstance(item, Invalid):
            return item
        line, record, raw = item
        # A JSON array may sit on one line, so its records are named by their index in it.
        source, at = (f"{path.name}[{index}]", f" (record [{index}] of the array)") if container == "json" else (
            f"{path.name}:{line}", "")
        try:
            fmt = detect_format(record)
            if shape_format and fmt != shape_format[0]:
                raise FieldProblem("(record)", f"{fmt} record in a {shape_format[0]} file")
            sample = record_to_sample(record, fmt, source=source)
        except FieldProblem as problem:
            return Invalid(InputError(path, line, f"{problem}{at}", field=problem.field, unit=unit), raw)
        shape_format[:1] = [fmt]
        return Read(sample, line)

    first_converted = convert(*first)
    shape = FileShape(container, shape_format[0]) if shape_format else None

    def rest() -> Iterator[Read | Invalid]:
        yield first_converted
        for index, item in numbered:
            yield convert(index, item)

    return shape, rest()


def _decode(path: Path, line: int, data: bytes) -> str | Invalid:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        message = f"not valid UTF-8 (byte 0x{data[err.start]:02x} at column {err.start + 1}); save the file as UTF-8"
        return Invalid(InputError(path, line, message), raw=data.decode("utf-8", "backslashreplace"))


def _gzip_errors_located(path: Path, records: Iterator[Any]) -> Iterator[Any]:
    """A broken gzip stream ends the file where it breaks; the records before it still count."""
    last = 0
    try:
        for item in records:
            last = (item.error.line or last) if isinstance(item, Invalid) else item[0]
            yield item
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        if not last:
            raise InputError(path, None, f"not a readable gzip file: {err}") from None
        yield Invalid(InputError(path, last + 1, f"the gzip stream breaks here, the rest is unreadable: {err}"), "")


def _jsonl(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    with open_bytes(path) as handle:
        for line_no, data in enumerate(handle, start=1):
            if line_no == 1:
                data = data.removeprefix(b"\xef\xbb\xbf")
            if len(data) > limit:
                yield too_big(path, line_no, len(data), limit)
                continue
            text = _decode(path, line_no, data)
            if isinstance(text, Invalid):
                yield text
                continue
            if not text.strip():
                continue
            raw = text.rstrip("\r\n")
            try:
                yield line_no, json_values.loads(text), raw
            except json.JSONDecodeError as err:
                yield Invalid(InputError(path, line_no, json_values.syntax_message(err)), raw)
            except ValueProblem as problem:
                yield Invalid(InputError(path, line_no, str(problem), field=problem.field), raw)


def _parquet(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise InputError(path, None, f"not a readable Parquet file: {err}") from None
    row = 0
    batches = parquet.iter_batches(batch_size=4096)
    while True:
        try:
            batch = next(batches, None)
        except Exception as err:  # a corrupt row group: the rows before it still count
            yield Invalid(InputError(path, row + 1, f"not readable from here on: {err}", unit="row"), "")
            return
        if batch is None:
            return
        for cells in batch.to_pylist():
            row += 1
            try:
                record = json_values.to_json_value(cells)
                json_values.check(record)
            except ValueProblem as problem:
                raw = json.dumps(cells, ensure_ascii=False, default=str)
                yield Invalid(InputError(path, row, str(problem), field=problem.field, unit="row"), raw)
                continue
            raw = json.dumps(record, ensure_ascii=False)
            if len(raw) > limit:
                yield too_big(path, row, len(raw), limit, unit="row")
            else:
                yield row, record, raw
