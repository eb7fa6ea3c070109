"""Read benchmark (test set) files for decontamination: each item's id and the text to guard.

Benchmarks come in whatever shape their authors chose, so the container is detected
(JSONL, a JSON array, either gzip-compressed, or Parquet) and each item's text is taken
from the first common field it has: GSM8K `question`, HumanEval `prompt`, MATH `problem`,
Alpaca-style `instruction` + `input`, then `text` or `input`. An item's id is its
`task_id`, `id` or `idx`, else its line number in JSONL, its position in a JSON array, or
its row in Parquet. A record with no text field
stops the load with an error naming the file and line, rather than being skipped: a
benchmark silently half-loaded would let contamination through unnoticed.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import InputError

TEXT_FIELDS = ("question", "prompt", "problem", "instruction", "text", "input")
ID_FIELDS = ("task_id", "id", "idx")
_GZIP_MAGIC = b"\x1f\x8b"
_NAME_SUFFIXES = (".gz", ".jsonl", ".ndjson", ".json", ".parquet")


@dataclass(frozen=True)
class BenchmarkItem:
    """One test item: its id within the benchmark and the text that must not leak."""

    id: str
    text: str


@dataclass(frozen=True)
class Benchmark:
    """A named list of items; the name appears in reason codes (`contaminated:<name>:<id>`)."""

    name: str
    items: tuple[BenchmarkItem, ...]


def benchmark_name(path: str | Path) -> str:
    """The file name without its container suffixes: `humaneval.jsonl.gz` -> `humaneval`."""
    name = Path(path).name
    while (suffix := next((s for s in _NAME_SUFFIXES if name.lower().endswith(s)), None)) is not None:
        name = name[: -len(suffix)]
    return name or Path(path).name


def load_benchmark(path: str | Path, name: str | None = None) -> Benchmark:
    """Read a benchmark file; raises InputError naming the file and line of any bad record."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "no such benchmark file")
    items = []
    for line, record, unit, number in _records(path):
        if not isinstance(record, dict):
            raise InputError(path, line, f"expected a JSON object, found {type(record).__name__}", unit=unit)
        items.append(BenchmarkItem(id=_item_id(record, number), text=_item_text(path, line, unit, record)))
    if not items:
        raise InputError(path, None, "benchmark file holds no items")
    return Benchmark(name or benchmark_name(path), tuple(items))


def _item_text(path: Path, line: int, unit: str, record: dict[str, Any]) -> str:
    for field in TEXT_FIELDS:
        value = record.get(field)
        if not isinstance(value, str) or not value.strip():
            continue
        # Alpaca-style items split the task across two fields, as assay's Sample does.
        extra = record.get("input") if field == "instruction" else None
        if isinstance(extra, str) and extra.strip():
            return f"{value}\n\n{extra}"
        return value
    found = ", ".join(sorted(record)) or "none"
    raise InputError(path, line, f"no text field: expected one of {', '.join(TEXT_FIELDS)} (fields found: {found})",
                     unit=unit)


def _item_id(record: dict[str, Any], number: int) -> str:
    for field in ID_FIELDS:
        value = record.get(field)
        if value is not None and str(value).strip():
            return str(value)
    return str(number)


def _records(path: Path) -> Iterator[tuple[int, Any, str, int]]:
    """(line or row for errors, record, "line" or "row", number for a fallback id) per record."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PAR1"):
        yield from _parquet_rows(path)
        return
    data = path.read_bytes()
    if head.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise InputError(path, None, f"not a readable gzip file: {err}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(path, line, "not valid UTF-8; save the file as UTF-8") from None
    if not text.strip():
        raise InputError(path, None, "benchmark file is empty")
    if text.lstrip().startswith("["):
        for position, (line, record) in enumerate(_json_array(path, text), start=1):
            yield line, record, "line", position
    else:
        for line, record in _jsonl(path, text):
            yield line, record, "line", line


def _jsonl(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(path, line_no, f"invalid JSON: {err.msg} at column {err.colno}") from None


def _json_array(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """Records of a JSON array with the line each one starts on, for error messages."""
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, err.lineno, f"invalid JSON: {err.msg} at column {err.colno}") from None
    decoder, pos = json.JSONDecoder(), text.index("[") + 1
    line, counted_to = 1, 0
    for record in records:
        # Re-walk the text only to find where each record starts; it is known to be valid JSON.
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        _, pos = decoder.raw_decode(text, pos)
        yield line, record


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any, str, int]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise InputError(path, None, f"not a readable Parquet file: {err}") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            yield row, record, "row", row
