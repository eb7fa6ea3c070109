"""The output file, joined from the render pass's chunks in batch order, atomically, one chunk in memory at a time.

JSONL chunks are concatenated; JSON array chunks are joined with `,` between the brackets, giving
the bytes `json.dump(rows, indent=2)` would; Parquet chunks are conformed to one schema (the
union of theirs, as `pa.Table.from_pylist` infers it over all rows) and streamed into one
ParquetWriter. The Parquet file holds the same table the in-memory writer makes, with one row
group per batch instead of one per million rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.core.writers import atomic_path


def join_chunks(out: Path, chunks: Sequence[Path], container: str) -> None:
    """Write `out` from the chunks, in order; it appears only once whole."""
    with atomic_path(out) as tmp:
        if container == "parquet":
            _join_parquet(tmp, chunks)
            return
        with tmp.open("wb") as target:
            if container == "json":
                target.write(b"[\n" if chunks else b"[]")
            for number, chunk in enumerate(chunks):
                if container == "json" and number:
                    target.write(b",\n")
                with chunk.open("rb") as source:
                    shutil.copyfileobj(source, target, 1 << 20)
            if container == "json":
                target.write(b"\n]\n" if chunks else b"\n")


def _join_parquet(tmp: Path, chunks: Sequence[Path]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from assay.core.writers import typed_assay_column

    if not chunks:
        pq.write_table(typed_assay_column(pa.Table.from_pylist([])), tmp)
        return
    schema = pa.unify_schemas([pq.read_schema(chunk) for chunk in chunks], promote_options="permissive")
    with pq.ParquetWriter(tmp, schema) as writer:
        for chunk in chunks:
            writer.write_table(_conform(pq.read_table(chunk), schema))


def _conform(table: Any, schema: Any) -> Any:
    """`table` with the columns and types of `schema` (a column or struct field it lacks: nulls)."""
    import pyarrow as pa

    widened = pa.concat_tables([schema.empty_table(), table], promote_options="permissive")
    return widened.select(schema.names).cast(schema)
