"""The sessions this machine knows (`assay sessions`): each one's size and spend, read from its DB."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assay.session.db import connect
from assay.session.registry import registered
from assay.session.session import DB_NAME, Runtime


@dataclass(frozen=True)
class SessionEntry:
    """One registered session that still exists."""

    folder: Path
    created: str | None
    samples: int
    calls: int
    cost_usd: float


def known_sessions(runtime: Runtime) -> list[SessionEntry]:
    """The registered sessions whose DB still exists, with sample counts, paid calls and spend."""
    entries = []
    for folder in registered(runtime):
        if not (folder / DB_NAME).is_file():
            continue  # a session folder deleted since: the registry is a list of hints, not a promise
        conn = connect(folder / DB_NAME, read_only=True)
        try:
            created = conn.execute("SELECT value FROM meta WHERE key = 'created_at'").fetchone()
            samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
            calls, cost = conn.execute(
                "SELECT SUM(outcome != 'cached'), COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()
        finally:
            conn.close()
        entries.append(SessionEntry(folder, json.loads(created[0])[:19] if created else None, samples, calls or 0, cost))
    return entries
