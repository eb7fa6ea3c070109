"""Quality verdicts in the session DB: who judged each sample, how, and with which calls.

A sample's current quality is its latest successful verdict. A failed call (the provider
down after every retry) is recorded too, as a row with `error` set: it counts as one attempt
(`judge_attempts`), never as a verdict, and never hides a verdict given before it. `source`
says where a verdict came from (the LLM judge or the classifier trained on its verdicts), so
a reviewer can tell them apart.
The overall score is also written to the sample's scores as `judge_overall`, where the
selectors and the store read it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assay.core.records import Sample
from assay.trace.log import Clock

Source = Literal["llm", "classifier"]


@dataclass(frozen=True)
class Judgement:
    """One verdict on one sample; `error` set (and no overall) when the judge failed."""

    sample_id: str
    source: Source
    overall: float | None
    scores: dict[str, float] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    rationale: str | None = None
    confidence: float | None = None
    error: str | None = None
    call_ids: list[int] = field(default_factory=list)
    round: int | None = None

    @property
    def ok(self) -> bool:
        """Whether this verdict carries a score."""
        return self.overall is not None and self.error is None


def record_judgements(conn: sqlite3.Connection, clock: Clock, judgements: Sequence[Judgement]) -> None:
    """Append verdicts in one transaction."""
    now = clock().isoformat()
    with conn:
        conn.executemany(
            "INSERT INTO judgements (ts, round, sample_id, source, overall, scores, issues, rationale, confidence,"
            " error, call_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(now, j.round, j.sample_id, j.source, j.overall, json.dumps(j.scores), json.dumps(j.issues),
              j.rationale, j.confidence, j.error, json.dumps(j.call_ids)) for j in judgements],
        )


def latest_judgements(conn: sqlite3.Connection, ids: Iterable[str] | None = None) -> dict[str, Judgement]:
    """Each sample's latest successful verdict, else its latest failure (all samples, or those in `ids`)."""
    query = ("SELECT j.* FROM judgements j JOIN (SELECT sample_id, COALESCE(MAX(CASE WHEN error IS NULL AND"
             " overall IS NOT NULL THEN id END), MAX(id)) AS last FROM judgements GROUP BY sample_id) l ON j.id = l.last")
    wanted = set(ids) if ids is not None else None
    found = {}
    for row in conn.execute(query):
        if wanted is not None and row["sample_id"] not in wanted:
            continue
        found[row["sample_id"]] = Judgement(
            row["sample_id"], row["source"], row["overall"], json.loads(row["scores"]), json.loads(row["issues"]),
            row["rationale"], row["confidence"], row["error"], json.loads(row["call_ids"]), row["round"],
        )
    return found


def judge_attempts(conn: sqlite3.Connection, ids: Iterable[str] | None = None) -> dict[str, int]:
    """Failed judging attempts per sample (samples that never failed are absent)."""
    wanted = set(ids) if ids is not None else None
    rows = conn.execute("SELECT sample_id, COUNT(*) FROM judgements WHERE error IS NOT NULL OR overall IS NULL"
                        " GROUP BY sample_id")
    return {r[0]: int(r[1]) for r in rows if wanted is None or r[0] in wanted}


def judged_ids(conn: sqlite3.Connection) -> set[str]:
    """Samples with at least one successful verdict."""
    rows = conn.execute("SELECT DISTINCT sample_id FROM judgements WHERE error IS NULL AND overall IS NOT NULL")
    return {r[0] for r in rows}


def to_judge(conn: sqlite3.Connection, samples: Iterable[Sample], max_attempts: int) -> list[Sample]:
    """Those of `samples` with no verdict yet and attempts left: what a judging pass takes on."""
    done, tried = judged_ids(conn), judge_attempts(conn)
    return [s for s in samples if s.id not in done and tried.get(s.id, 0) < max_attempts]


def unjudged_reason(attempts: int, max_attempts: int) -> str:
    """Why a sample without a verdict stays out of the export: never a quality reason."""
    return f"unjudged:judge_failed_{attempts}_of_{max_attempts}" if attempts else "unjudged:not_judged"
