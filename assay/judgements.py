"""Quality verdicts in the session DB: who judged each sample, how, and with which calls.

A sample's current quality is its latest verdict. `source` says where it came from (the
LLM judge or the classifier trained on its verdicts), so a reviewer can tell them apart.
The overall score is also written to the sample's scores as `judge_overall`, where the
selectors and the store read it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assay.trace import Clock

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
    """Each sample's latest verdict (all samples, or those in `ids`)."""
    query = ("SELECT j.* FROM judgements j JOIN (SELECT sample_id, MAX(id) AS last FROM judgements GROUP BY sample_id)"
             " l ON j.id = l.last")
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
