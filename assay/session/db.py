"""The session SQLite database: connection settings, nesting transactions, and numbered migrations.

Migrations are the files `assay/migrations/NNNN_name.sql`, applied in order; the number
of the last one applied is kept in `PRAGMA user_version`.

A writable connection is a `SessionConnection`: `with conn:` blocks nest, so a node wraps
all of its writes in one block and every helper's own `with conn:` inside it (the trace,
the sample table, the judgements) joins that one transaction instead of committing early.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import TracebackType

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as (number, file name, SQL), in order."""
    found = []
    for entry in resources.files("assay.session.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


class SessionConnection(sqlite3.Connection):
    """A connection whose `with` blocks nest: only the outermost one commits (or rolls back).

    An inner block is a savepoint: its failure undoes its own writes only, and the outer
    block decides. Actions registered with `after_commit` run once the outermost block has
    committed, and are dropped with the writes they follow when it rolls back: this is how
    the vector store, derived from SQLite, never holds what SQLite does not.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._depth = 0
        self._pending: list[tuple[int, Callable[[], None]]] = []

    def __enter__(self) -> SessionConnection:
        if self._depth == 0:
            if not self.in_transaction:
                # IMMEDIATE takes the write lock now: a block that reads, then writes, cannot
                # fail half-way because another process wrote in between.
                self.execute("BEGIN IMMEDIATE")
        else:
            self.execute(f"SAVEPOINT nest_{self._depth}")
        self._depth += 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        self._depth -= 1
        depth = self._depth
        if depth > 0:
            if not self.in_transaction:  # SQLite itself already rolled everything back
                self._pending = []
                return False
            if exc_type is not None:
                self.execute(f"ROLLBACK TO nest_{depth}")
                self._pending = [(level, action) for level, action in self._pending if level <= depth]
            else:
                self._pending = [(min(level, depth), action) for level, action in self._pending]
            self.execute(f"RELEASE nest_{depth}")
            return False
        actions, self._pending = [action for _, action in self._pending], []
        if exc_type is not None:
            self.rollback()
            return False
        self.commit()
        for action in actions:
            action()
        return False

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` when the current transaction commits (at once when none is open)."""
        if self._depth == 0:
            action()
        else:
            self._pending.append((self._depth, action))


# RETURNING (batched trace writes) needs 3.35; FTS5's trigram tokenizer (text search) 3.34.
MIN_SQLITE = (3, 35, 0)


def connect(path: str | Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a session DB, bringing its schema up to date unless read-only."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        from assay.core.errors import AssayError

        raise AssayError(f"{path}: assay needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this Python has "
                         f"{sqlite3.sqlite_version} (a newer Python build bundles a newer SQLite)")
    if read_only:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    else:
        conn = sqlite3.connect(path, factory=SessionConnection)
        # WAL lets readers (trace review, the viewer) look while a session writes.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    if not read_only:
        migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this DB has not seen; returns the schema version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    available = migrations()
    if current > len(available):
        raise RuntimeError(
            f"this session DB has schema version {current}, newer than this assay "
            f"({len(available)}); upgrade assay to open it"
        )
    for number, _name, sql in available[current:]:
        with conn:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    return len(available)
