"""The input, read as a stream of batches: every valid record with its input position, repeats marked.

Nothing here holds more than one batch of records. The one global step is on ids: a record
whose id (its content hash) an earlier record had is a repeat, marked as the in-memory engine
marks it (scored_output.scored_records: `duplicate_of:<id>`, `exact_repeat`) and never screened
again. The set of ids seen is the only state that grows with the pool (16 hex characters a sample).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assay.core.errors import InputError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.raw_input import GZIP_MAGIC
from assay.core.readers import FileShape, Invalid, container_of, read_samples
from assay.core.records import Sample

DEFAULT_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Row:
    """One valid input record: its position among the valid records, the sample, and whether it repeats an earlier one."""

    position: int
    sample: Sample
    repeat: bool


@dataclass(frozen=True)
class Batch:
    """`batch_size` consecutive valid records (the last batch may hold fewer)."""

    index: int
    rows: tuple[Row, ...]

    def distinct(self) -> list[Sample]:
        """The samples met here for the first time, in input order: the ones to screen."""
        return [row.sample for row in self.rows if not row.repeat]


@dataclass
class InputStats:
    """What reading the whole input found; complete once the batches are exhausted."""

    shape: FileShape | None = None
    valid: int = 0
    distinct: int = 0
    repeats: int = 0
    invalid: int = 0
    seen: set[str] = field(default_factory=set)
    repeated: set[str] = field(default_factory=set)  # ids met more than once


def read_batches(path: Path, stats: InputStats, *, batch_size: int = DEFAULT_BATCH_SIZE, skip_invalid: bool,
                 max_record_bytes: int, fields: FieldMap = NO_MAPPING) -> Iterator[Batch]:
    """The input's valid records in batches of `batch_size`; `stats` fills in as they are read.

    An invalid record raises its InputError unless `skip_invalid`, as `read_inputs` does.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    shape, records = read_samples(path, max_record_bytes=max_record_bytes, fields=fields)
    stats.shape = shape
    rows: list[Row] = []
    index = 0
    for item in records:
        if isinstance(item, Invalid):
            if not skip_invalid:
                raise item.error
            stats.invalid += 1
            continue
        sample = item.sample
        if stats.shape is None:  # as read_inputs: the first valid record tells the format
            stats.shape = FileShape(shape.container if shape else "jsonl", sample.origin.format if sample.origin else "alpaca")
        repeat = sample.id in stats.seen
        if repeat:
            stats.repeats += 1
            stats.repeated.add(sample.id)
        else:
            stats.seen.add(sample.id)
            stats.distinct += 1
        rows.append(Row(stats.valid, sample, repeat))
        stats.valid += 1
        if len(rows) == batch_size:
            yield Batch(index, tuple(rows))
            index, rows = index + 1, []
    if rows:
        yield Batch(index, tuple(rows))


def estimate_records(path: Path) -> int | None:
    """About how many records the input holds, cheaply (for a progress ETA), or None where only a full parse can tell.

    Parquet: its row count; plain JSONL: its non-empty lines, counted in bytes without parsing.
    """
    try:
        kind = container_of(path)
        if kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        with path.open("rb") as handle:
            if handle.read(2) == GZIP_MAGIC[:2] or kind != "jsonl":
                return None
        count, last = 0, b"\n"
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                count += chunk.count(b"\n")
                last = chunk[-1:]
        return count + (last != b"\n")
    except (OSError, InputError):
        return None
