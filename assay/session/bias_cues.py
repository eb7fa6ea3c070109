"""Bias-cue detection runs in the session DB (migration 0008): each candidate cue tested, with its numbers.

A run stores every candidate it tested, significant or not, so a reader can apply its own alpha;
`significant` uses the run's. The numbers mean what `tools/bias_cue_detect.py` says: a cue's
effect is its association with the outcome beyond cluster and length, not proof of bias.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from assay.core.bias_cue import Cue
from assay.trace.log import Clock


@dataclass(frozen=True)
class CueFinding:
    """One tested cue of a detection run: the cue and its association with the run's outcome."""

    cue: Cue
    outcome: str
    effect: float
    p: float
    adjusted_p: float
    prevalence: float
    n: int
    carriers: int = 0
    alpha: float = 0.05
    method: str = ""
    created_at: str = ""
    run_id: int = 0

    @property
    def significant(self) -> bool:
        """Whether the cue's adjusted p-value is within the run's alpha."""
        return self.adjusted_p <= self.alpha


@dataclass(frozen=True)
class DetectionRun:
    """How a run was made: the outcome, its size and the test's settings."""

    outcome: str
    n: int
    alpha: float
    method: str
    permutations: int
    seed: int
    source: str = "session"


def record_findings(conn: sqlite3.Connection, clock: Clock, run: DetectionRun,
                    findings: Sequence[CueFinding]) -> int:
    """Store one detection run and its findings (in the order given: rank 1 first) in one transaction;
    returns the run's id."""
    now = clock().isoformat()
    with conn:
        cur = conn.execute(
            "INSERT INTO bias_cue_runs (created_at, outcome, n, alpha, method, permutations, seed, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now, run.outcome, run.n, run.alpha, run.method, run.permutations, run.seed, run.source))
        run_id = int(cur.lastrowid or 0)
        conn.executemany(
            "INSERT INTO bias_cue_findings (run_id, rank, kind, text, pattern, min_words, effect, p, adjusted_p,"
            " prevalence, carriers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, rank, f.cue.kind, f.cue.text, f.cue.pattern, f.cue.min_words, f.effect, f.p, f.adjusted_p,
              f.prevalence, f.carriers) for rank, f in enumerate(findings, start=1)])
    return run_id


def latest_run_id(conn: sqlite3.Connection) -> int | None:
    """The newest detection run's id, or None when cues were never detected."""
    row = conn.execute("SELECT MAX(id) FROM bias_cue_runs").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def latest_findings(conn: sqlite3.Connection) -> list[CueFinding]:
    """The newest detection run's findings, rank 1 first (empty when cues were never detected)."""
    run_id = latest_run_id(conn)
    if run_id is None:
        return []
    run = conn.execute("SELECT * FROM bias_cue_runs WHERE id = ?", (run_id,)).fetchone()
    rows = conn.execute("SELECT * FROM bias_cue_findings WHERE run_id = ? ORDER BY rank", (run_id,))
    return [CueFinding(cue=Cue(kind=r["kind"], text=r["text"], pattern=r["pattern"], min_words=r["min_words"]),
                       outcome=run["outcome"], effect=r["effect"], p=r["p"], adjusted_p=r["adjusted_p"],
                       prevalence=r["prevalence"], n=run["n"], carriers=r["carriers"], alpha=run["alpha"],
                       method=run["method"], created_at=run["created_at"], run_id=run_id) for r in rows]
