"""Samples in the session DB: immutable content plus their current status, scores and tags."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from assay.core.records import Message, Origin, Sample, Status
from assay.trace.log import Clock

CHUNK = 500  # stays under SQLite's bound-parameter limit


class SampleTable:
    """Reads and writes the `samples` table."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock

    def known(self, ids: Iterable[str]) -> set[str]:
        """Which of these ids the session already holds."""
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            marks = ",".join("?" * len(part))
            found.update(r[0] for r in self.conn.execute(f"SELECT id FROM samples WHERE id IN ({marks})", part))
        return found

    def insert(self, samples: Sequence[Sample], *, round: int | None = None) -> None:
        """Add new samples (ids already present are left as they are)."""
        now = self.clock().isoformat()
        rows = [
            (
                s.id, json.dumps([m.model_dump() for m in s.messages], ensure_ascii=False), s.source, s.op,
                json.dumps(list(s.parent_ids)), s.origin.format if s.origin else None,
                json.dumps(s.origin.record, ensure_ascii=False) if s.origin and s.origin.record is not None else None,
                s.status.value, s.reason, json.dumps(s.scores), json.dumps(s.tags), round, now,
            )
            for s in samples
        ]
        # One statement per chunk of rows, not one per row: the text index's trigger (migration 0004)
        # makes each statement a savepoint, and FTS5 flushes its pending index at every savepoint,
        # which made a row-at-a-time insert about four times slower. 500 rows x 13 values stay under
        # SQLite's bound-parameter limit.
        with self.conn:
            for start in range(0, len(rows), CHUNK):
                part = rows[start : start + CHUNK]
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
                self.conn.execute(
                    "INSERT OR IGNORE INTO samples (id, messages, source, op, parent_ids, format, record, status, reason, "
                    f"scores, tags, round, created_at) VALUES {values}",
                    [value for row in part for value in row],
                )

    def get(self, ids: Sequence[str]) -> list[Sample]:
        """The samples with these ids, in the order asked (unknown ids are skipped)."""
        by_id: dict[str, Sample] = {}
        for start in range(0, len(ids), CHUNK):
            part = list(ids[start : start + CHUNK])
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(f"SELECT * FROM samples WHERE id IN ({marks})", part):
                by_id[row["id"]] = row_to_sample(row)
        return [by_id[i] for i in ids if i in by_id]

    def iter(self, *, status: Status | None = None) -> Iterator[Sample]:
        """Every sample (optionally of one status), in insertion order."""
        for batch in self.batches(status=status):
            yield from batch

    def batches(self, *, status: Status | None = None, other_than: Status | None = None,
                size: int = 1000) -> Iterator[list[Sample]]:
        """The samples in insertion order, `size` at a time, read from one cursor: memory holds one batch.

        `status` keeps one status, `other_than` leaves one out. A status filter reads the status
        index, whose entries for one status are already in rowid order (no sort)."""
        sql, args = "SELECT * FROM samples", ()
        if status is not None:
            sql, args = sql + " WHERE status = ?", (status.value,)
        elif other_than is not None:
            sql, args = sql + " WHERE status != ?", (other_than.value,)
        cursor = self.conn.execute(sql + " ORDER BY rowid", args)
        try:
            while rows := cursor.fetchmany(size):
                yield [row_to_sample(row) for row in rows]
        finally:
            cursor.close()

    def set_status(self, ids: Sequence[str], status: Status, reason: str | None) -> None:
        """Change the status (and reason) of samples."""
        with self.conn:
            self.conn.executemany("UPDATE samples SET status = ?, reason = ? WHERE id = ?", [(status.value, reason, i) for i in ids])

    def merge_scores(self, scores: Mapping[str, Mapping[str, float]]) -> None:
        """Add or replace named scores per sample id."""
        self._merge_json("scores", scores)

    def merge_tags(self, tags: Mapping[str, Mapping[str, list[str]]]) -> None:
        """Add or replace named tag lists per sample id."""
        self._merge_json("tags", tags)

    def _merge_json(self, column: str, updates: Mapping[str, Mapping[str, Any]]) -> None:
        # Read the current values CHUNK ids at a time and write them back in one executemany:
        # one statement per sample was two round trips each, the bulk of a screen's writes at 1M.
        ids = list(updates)
        with self.conn:
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                marks = ",".join("?" * len(part))
                current = dict(self.conn.execute(f"SELECT id, {column} FROM samples WHERE id IN ({marks})", part).fetchall())
                missing = next((i for i in part if i not in current), None)
                if missing is not None:
                    raise KeyError(f"unknown sample {missing}")
                rows = [(json.dumps({**json.loads(current[i]), **updates[i]}), i) for i in part]
                self.conn.executemany(f"UPDATE samples SET {column} = ? WHERE id = ?", rows)

    def count(self) -> int:
        """How many samples the session holds."""
        return int(self.conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def counts(self) -> list[tuple[str, str | None, int]]:
        """(status, reason, count) rows, largest first."""
        rows = self.conn.execute("SELECT status, reason, COUNT(*) FROM samples GROUP BY status, reason ORDER BY 3 DESC")
        return [(r[0], r[1], r[2]) for r in rows]


def row_to_sample(row: sqlite3.Row) -> Sample:
    """Rebuild a Sample from its row."""
    record: Any = json.loads(row["record"]) if row["record"] is not None else None
    origin = Origin(format=row["format"], record=record) if row["format"] else None
    return Sample(
        id=row["id"],
        messages=tuple(Message(**m) for m in json.loads(row["messages"])),
        source=row["source"],
        parent_ids=tuple(json.loads(row["parent_ids"])),
        op=row["op"],
        status=Status(row["status"]),
        reason=row["reason"],
        scores=json.loads(row["scores"]),
        tags=json.loads(row["tags"]),
        origin=origin,
    )
