"""Read benchmark (test set) files for decontamination: each item's id and the text to guard.

Benchmarks come in whatever shape their authors chose, so the container is detected
(JSONL, a JSON array, either gzip-compressed, or Parquet) and each item's text is taken
from the first common field it has: GSM8K `question`, HumanEval `prompt`, MATH `problem`,
Alpaca-style `instruction` + `input`, then `text` or `input`. An item's id is its
`task_id`, `id` or `idx`, else its line number in JSONL, its position in a JSON array, or
its row in Parquet. Files are read by `assay.core.readers`, like every other input. A record
with no text field stops the load with an error naming the file and line, rather than being skipped: a
benchmark silently half-loaded would let contamination through unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core.errors import InputError
from assay.core.readers import Invalid, container_of, raw_records

TEXT_FIELDS = ("question", "prompt", "problem", "instruction", "text", "input")
ID_FIELDS = ("task_id", "id", "idx")
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
    """(line or row for errors, record, "line" or "row", number for a fallback id) per record.

    The fallback id is the line in JSONL, the position in a JSON array, the row in Parquet.
    """
    unit, records = raw_records(path)
    by_position = container_of(path) == "json"
    for position, item in enumerate(records, start=1):
        if isinstance(item, Invalid):
            raise item.error
        line, record, _raw = item
        yield line, record, unit, position if by_position else line
