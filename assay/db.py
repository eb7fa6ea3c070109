"""The session SQLite database: connection settings and numbered migrations.

Migrations are the files `assay/migrations/NNNN_name.sql`, applied in order; the number
of the last one applied is kept in `PRAGMA user_version`.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as (number, file name, SQL), in order."""
    found = []
    for entry in resources.files("assay.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


def connect(path: str | Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a session DB, bringing its schema up to date unless read-only."""
    if read_only:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    else:
        conn = sqlite3.connect(path)
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
