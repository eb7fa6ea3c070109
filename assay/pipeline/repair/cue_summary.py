"""Bias cues as the report and the viewer show them: each cue of the latest detection with its
prevalence at detection and now, the repair attempts made on it, and the samples carrying it.

Below both interface layers (the report's section, `report/cues.py`, and the viewer's page,
`ui/cues_view.py`, read the same numbers). Before is the share of the tested responses carrying
the cue when it was detected; after is the share of the current pool carrying it (the selected
samples once selection ran, else the active ones; after any repair, `assay cues repair`). Every
count decides presence with `Cue.present`, the matcher detection and repair use, so they agree.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from assay.core.records import Status
from assay.pipeline.repair.cue_attempt import AGENT, REASONS
from assay.session.bias_cues import CueFinding, latest_findings, latest_run_id
from assay.trace.view import has_table

# A cue-repair decision's reason, as `cue_attempt.attempt` writes it: "<reason>: rewrite[ <id>] <numbers JSON>".
ATTEMPT_REASON = re.compile(r"^(?P<reason>\w+): rewrite(?: (?P<rewrite>[0-9a-f]{16}))? (?P<numbers>\{.*\})$", re.S)


def cue_summary(session: Any, *, every: bool = False) -> dict[str, Any] | None:
    """The latest run's significant cues (every tested cue with `every`) with prevalence before and after,
    or None when there are no findings."""
    if not has_table(session.conn, "bias_cue_findings"):
        return None
    findings = latest_findings(session.conn)
    if not findings:
        return None
    shown = findings if every else [f for f in findings if f.significant]
    carrying = [0] * len(shown)
    active = 0
    # The pool now, as the rest of the report reads it: the selected samples once `select` ran
    # (then only the unjudged are still active), else the active pool.
    selected = session.conn.execute("SELECT 1 FROM samples WHERE status = ? LIMIT 1", (Status.SELECTED.value,))
    pool = Status.SELECTED if selected.fetchone() else Status.ACTIVE
    for batch in session.samples.batches(status=pool):
        for sample in batch:
            active += 1
            text = sample.response
            for i, f in enumerate(shown):
                carrying[i] += f.cue.present(text)
    first = findings[0]
    rows = [{"kind": f.cue.kind, "text": f.cue.text, "before": f.prevalence, "carriers_before": f.carriers,
             "after": carrying[i] / active if active else None, "carriers_after": carrying[i],
             "effect": f.effect, "adjusted_p": f.adjusted_p, "pattern": f.cue.pattern, "min_words": f.cue.min_words,
             "key": f.cue.key(), "reported": f.significant, "rank": findings.index(f) + 1}
            for i, f in enumerate(shown)]
    return {"outcome": first.outcome, "n": first.n, "alpha": first.alpha, "method": first.method,
            "tested": len(findings), "created_at": first.created_at, "active": active,
            "pool": "selected" if pool is Status.SELECTED else "active", "rows": rows, "run_id": first.run_id,
            "reported": sum(f.significant for f in findings)}


@dataclass(frozen=True)
class Attempt:
    """One cue-repair attempt as its trace decision records it."""

    decision_id: int
    sample_id: str
    round: int | None
    reason: str  # one of cue_attempt.REASONS
    rewrite: str | None  # the rewrite's id, when one was made
    cues: tuple[str, ...]  # the cue keys asked about
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def kept(self) -> bool:
        """Whether the rewrite passed every check (it became a proposal)."""
        return self.reason == "kept"


def _attempt(row: Any) -> Attempt | None:
    found = ATTEMPT_REASON.match(row["reason"] or "")
    if found is None:
        return None  # not written by cue_attempt (no cue repair decision has another shape)
    numbers = json.loads(found["numbers"])
    return Attempt(int(row["id"]), row["sample_id"], row["round"], found["reason"], found["rewrite"],
                   tuple(numbers.get("cues", ())), numbers)


def attempts(conn: Any, sample_id: str | None = None) -> list[Attempt]:
    """The cue-repair attempts (of one sample, or all), oldest first."""
    if not has_table(conn, "decisions"):
        return []
    where, args = ("AND sample_id = ?", (AGENT, sample_id)) if sample_id else ("", (AGENT,))
    rows = conn.execute(f"SELECT id, sample_id, round, reason FROM decisions WHERE agent = ? {where} ORDER BY id", args)
    return [a for a in map(_attempt, rows) if a is not None]


def repair_counts(conn: Any) -> dict[str, dict[str, Any]]:
    """Per cue key: attempts naming it, how many were kept, and the rejected ones by reason (in REASONS' order).
    Every round's attempts count: a cue keeps its key across detection runs."""
    tried: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    rejected: dict[str, Counter[str]] = {}
    for a in attempts(conn):
        for key in a.cues:
            tried[key] += 1
            if a.kept:
                kept[key] += 1
            else:
                rejected.setdefault(key, Counter())[a.reason] += 1
    return {key: {"tried": tried[key], "kept": kept[key],
                  "rejected": {r: rejected.get(key, Counter())[r] for r in REASONS if rejected.get(key, Counter())[r]}}
            for key in tried}


def finding(conn: Any, rank: int, run_id: int | None = None) -> CueFinding | None:
    """The latest run's cue of this rank, or None (no such rank; or `run_id` given and no longer the latest)."""
    if not has_table(conn, "bias_cue_findings"):
        return None
    if run_id is not None and run_id != latest_run_id(conn):
        return None
    findings = latest_findings(conn)
    return findings[rank - 1] if 1 <= rank <= len(findings) else None


def carriers(session: Any, cue: Any) -> list[tuple[str, str]]:
    """Every sample of the session (any status) whose response carries `cue`: (id, status), in pool order."""
    return [(s.id, s.status.value) for batch in session.samples.batches() for s in batch if cue.present(s.response)]
