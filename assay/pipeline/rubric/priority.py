"""Which pending review item a person should look at first: guideline effectiveness as active learning.

Query by committee first: an item on which the base rubric and the refined one (the latest
refinement's kept proposal, else its best) decide differently is the most informative, since
the person's decision there tells which rubric is right. Then the judge's uncertainty: a
pairwise tie in both orders, or a pointwise overall score close to the keep threshold. Only
recorded verdicts are read (no LLM call): `assay rubric refine` stores the refined rubric's
verdicts on pending items (`--rank-pending`); without a refinement the order is by
uncertainty alone.

Scores: 2 + u for a committee disagreement, else u, where u in [0, 1] is the uncertainty
(1 for a tie; 1 - distance / 4 for a pointwise score, the distance to the threshold on the
1-5 scale; 0 for a rewrite the judge preferred or rejected in both orders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.pipeline.rubric.items import JudgeCall, keep_threshold, recorded_verdict, review_cases

COMMITTEE = 2.0


@dataclass(frozen=True)
class ItemPriority:
    """A pending item's place in the review order: higher first, and why."""

    item_id: int
    score: float
    reason: str


def review_priority(session: Any) -> list[ItemPriority]:
    """The pending expand and repair items, most informative first (ties by id)."""
    conn = session.conn
    pending = review_cases(conn, pending=True)
    if not pending:
        return []
    threshold = keep_threshold(session.meta)
    stored = _stored(conn)
    found = []
    for case in pending:
        base = stored.get((case.id, "base")) or recorded_verdict(conn, case, threshold)
        refined = stored.get((case.id, "winner"))
        if base is None or base.decision is None:
            found.append(ItemPriority(case.id, 0.0, "no judge verdict recorded"))
            continue
        u, why = _uncertainty(base, threshold)
        if refined is not None and refined.decision is not None and refined.decision != base.decision:
            found.append(ItemPriority(case.id, round(COMMITTEE + u, 4),
                                      f"the rubrics disagree: base would {base.decision}, refined would "
                                      f"{refined.decision}; your decision tells which is right ({why})"))
        else:
            found.append(ItemPriority(case.id, round(u, 4), why))
    return sorted(found, key=lambda p: (-p.score, p.item_id))


def _uncertainty(verdict: JudgeCall, threshold: float) -> tuple[float, str]:
    if verdict.tie:
        return 1.0, "the pairwise judge tied: its two orders disagreed"
    if verdict.overall is not None:
        distance = abs(verdict.overall - threshold)
        return max(0.0, 1.0 - distance / 4), f"overall {verdict.overall:g}, {distance:.2f} from the keep threshold {threshold:g}"
    return 0.0, f"the pairwise judge decided in both orders ({verdict.decision})"


def _stored(conn: Any) -> dict[tuple[int, str], JudgeCall]:
    """The latest ranked refinement's verdicts on pending items, by (item, 'base' | 'winner')."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rubric_refinements'").fetchone()
    if exists is None:  # a session last opened by an assay before refinements (read-only: not migrated)
        return {}
    run = conn.execute("SELECT id, winner FROM rubric_refinements WHERE winner IS NOT NULL ORDER BY id DESC").fetchone()
    if run is None:
        return {}
    rows = conn.execute("SELECT item_id, rubric, decision, overall, tie, detail FROM rubric_verdicts WHERE"
                        " refinement_id = ? AND split = 'pending'", (run["id"],)).fetchall()
    return {(r["item_id"], "base" if r["rubric"] == "base" else "winner"):
            JudgeCall(r["decision"], r["overall"], {}, bool(r["tie"]), r["detail"]) for r in rows}
