"""A session's vectors in columnar files: Arrow IPC parts under DIR/vectors/, indexed in SQLite.

Each `Store.add` writes one part, `part-NNNNNNNN.arrow`: an `id` column and a `vector` column
of fixed-size float32 lists. The file is written beside its final name and renamed into place
(after an fsync), so a reader never sees half a part. The `vector_rows` table (migration 0005)
maps each sample id to its (part, row) and is written in the caller's transaction, together
with the sample: a rolled back add leaves only an unreferenced file, which the next part
number skips and nothing reads. Reads memory-map the parts, so `Store.vectors` costs an index
lookup and a copy, never a round trip to the vector index.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

PREFIX, SUFFIX = "part-", ".arrow"
_CHUNK = 900  # bound parameters per SELECT: under SQLite's old limit of 999
_OPEN_PARTS = 256  # memory-mapped parts kept open


def part_path(folder: Path, part: int) -> Path:
    """The file of one part."""
    return folder / f"{PREFIX}{part:08d}{SUFFIX}"


class VectorFiles:
    """Reads and writes the vector parts of one session folder; SQLite access goes through the
    connection each call is given (the writer's, or a reader thread's or process's own)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._next: int | None = None
        self._lock = threading.Lock()
        self._open: dict[int, Any] = {}  # part -> its memory-mapped vectors (numpy view)

    def write(self, conn: sqlite3.Connection, ids: Sequence[str], vectors: np.ndarray) -> int:
        """Write a part for these ids (rows in order) and index it in `conn`'s open transaction;
        returns the part number."""
        import pyarrow as pa

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"{len(ids)} ids need a matrix of {len(ids)} rows, got shape {vectors.shape}")
        part = self._claim(conn)
        self.folder.mkdir(parents=True, exist_ok=True)
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])
        table = pa.table({"id": pa.array(list(ids), pa.string()), "vector": column})
        final = part_path(self.folder, part)
        scratch = final.with_suffix(".tmp")
        with pa.OSFile(str(scratch), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        with open(scratch, "rb") as handle:
            os.fsync(handle.fileno())  # the rename below must not outlive the bytes it names
        os.replace(scratch, final)
        rows = [(sample_id, part, row) for row, sample_id in enumerate(ids)]
        conn.executemany("INSERT OR REPLACE INTO vector_rows (id, part, row) VALUES (?, ?, ?)", rows)
        return part

    def _claim(self, conn: sqlite3.Connection) -> int:
        """The next part number: past every file on disk and every indexed part (one writer per session)."""
        with self._lock:
            if self._next is None:
                on_disk = [int(p.name[len(PREFIX) : -len(SUFFIX)]) for p in self.folder.glob(f"{PREFIX}*{SUFFIX}")]
                indexed = conn.execute("SELECT MAX(part) FROM vector_rows").fetchone()[0]
                self._next = max([0, *on_disk, indexed or 0]) + 1
            part, self._next = self._next, self._next + 1
        return part

    def locate(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(part, row) of each id that has a stored vector."""
        found: dict[str, tuple[int, int]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for sample_id, part, row in conn.execute(f"SELECT id, part, row FROM vector_rows WHERE id IN ({marks})", chunk):
                found[sample_id] = (part, row)
        return found

    def read(self, conn: sqlite3.Connection, ids: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """The vectors of `ids` in the order asked, and the ids that have none (their rows are zero)."""
        where = self.locate(conn, ids)
        missing = [i for i in ids if i not in where]
        by_part: dict[int, list[tuple[int, int]]] = {}
        for position, sample_id in enumerate(ids):
            if sample_id in where:
                part, row = where[sample_id]
                by_part.setdefault(part, []).append((position, row))
        out: np.ndarray | None = None
        for part, pairs in sorted(by_part.items()):
            matrix = self.part_vectors(part)
            if out is None:
                out = np.zeros((len(ids), matrix.shape[1]), dtype=np.float32)
            positions, rows = (np.fromiter((p[k] for p in pairs), dtype=np.int64, count=len(pairs)) for k in (0, 1))
            out[positions] = matrix[rows]
        return (out if out is not None else np.zeros((len(ids), 0), dtype=np.float32)), missing

    def part_vectors(self, part: int) -> np.ndarray:
        """A part's vectors as a read-only (rows, dim) view of the memory-mapped file."""
        with self._lock:
            cached = self._open.get(part)
        if cached is not None:
            return cached
        matrix = self._load(part)[1]
        with self._lock:
            if len(self._open) >= _OPEN_PARTS:
                self._open.pop(next(iter(self._open)))
            self._open[part] = matrix
        return matrix

    def part_ids(self, part: int) -> list[str]:
        """A part's ids, in row order."""
        return self._load(part)[0]

    def _load(self, part: int) -> tuple[list[str], np.ndarray]:
        import pyarrow as pa

        source = pa.memory_map(str(part_path(self.folder, part)), "r")
        table = pa.ipc.open_file(source).read_all()
        column = table.column("vector").combine_chunks()
        width = column.type.list_size
        values = column.values.to_numpy(zero_copy_only=True)
        return table.column("id").to_pylist(), values.reshape(-1, width)
