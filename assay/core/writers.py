"""Atomic writes: everything goes to a temporary file beside the target, then is renamed."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from assay.core.formats import sample_to_record
from assay.core.readers import FileShape
from assay.core.records import Sample


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over the target on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_text(path: str | Path) -> Iterator[IO[str]]:
    """Open a text file for writing that appears at `path` only once fully written."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        yield handle


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write dicts as JSON lines, atomically; returns how many were written."""
    count = 0
    with atomic_text(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_records(path: str | Path, records: list[dict[str, Any]], container: str) -> int:
    """Write dicts as JSONL, a JSON array or Parquet, atomically; returns how many."""
    if container == "jsonl":
        return write_jsonl(path, records)
    if container == "json":
        with atomic_text(path) as handle:
            json.dump(records, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        return len(records)
    if container != "parquet":
        raise ValueError(f"unknown container {container!r}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    # from_pylist takes its columns from the first row alone: the union keeps every row's fields.
    columns = list(dict.fromkeys(key for record in records for key in record))
    table = typed_assay_column(pa.Table.from_pylist([{key: record.get(key) for key in columns} for record in records]))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(records)


def write_samples(path: str | Path, samples: Iterable[Sample], shape: FileShape) -> int:
    """Write samples in the user's shape (format and container), atomically."""
    return write_records(path, [sample_to_record(sample, shape.format) for sample in samples], shape.container)


ASSAY_COLUMN = "_assay"
# The types of assay's own `_assay` fields. Inferred from the values alone, a field that is null
# in every row (`reason` when nothing was dropped) becomes type null, and such a file will not
# concatenate with one where the field has values; these fields always get their real type.
_ASSAY_FIELD_TYPES = {
    "id": "string", "status": "string", "reason": "string", "detail": "string", "dropped_by": "string",
    "cluster": "int64", "injection": "list<string>", "error": "string", "op": "string", "parent_ids": "list<string>",
    "hop": "int64", "seed_id": "string", "topic": "string", "attributes": "list<string>", "persona": "string",
    "relevance": "float64", "judge_overall": "float64", "ids": "list<string>",
}


def typed_assay_column(table: Any) -> Any:
    """`table` with its `_assay` struct's known fields cast to their declared types."""
    import pyarrow as pa

    if ASSAY_COLUMN not in table.column_names or not pa.types.is_struct(table.schema.field(ASSAY_COLUMN).type):
        return table
    declared = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "list<string>": pa.list_(pa.string())}
    inferred = table.schema.field(ASSAY_COLUMN).type
    fields = [pa.field(f.name, declared[_ASSAY_FIELD_TYPES[f.name]]) if f.name in _ASSAY_FIELD_TYPES else f
              for f in inferred]
    index = table.column_names.index(ASSAY_COLUMN)
    return table.set_column(index, ASSAY_COLUMN, table.column(ASSAY_COLUMN).cast(pa.struct(fields)))
