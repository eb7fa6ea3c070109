"""Apply a round: move its approved proposals into the pool; rejected ones are traced and left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.core.records import Status
from assay.pipeline.rounds import record_outcome
from assay.session.proposals import proposals

APPLIED_META = "applied_rounds"  # round -> the repairs it applied, set in apply's own transaction


@dataclass(frozen=True)
class Applied:
    """The repairs the round brought in (screened next round) and the counts for the display."""

    repairs: list[str]
    counts: dict[str, int] | None = None  # None: the round was applied before, by an earlier run


def apply_round(session: Any, round: int) -> Applied:
    """Bring the round's approved repairs and expansions into the pool, once.

    All of apply's writes are one transaction, marked done in the same transaction: a kill
    leaves the round's proposals either all applied or none, never a rewrite beside the
    original it replaces, and a re-run after the commit repeats nothing (its counts None).
    """
    from assay.pipeline.screen.clusters import nearest_clusters
    from assay.pipeline.judge.pool import record_verdicts
    from assay.session.judgements import Judgement

    done = session.meta(APPLIED_META, {})
    if str(round) in done:
        return Applied(done[str(round)])
    store = session.store
    items = [p for p in proposals(session.conn, round=round) if p.kind != "export"]
    chosen: dict[int, Any] = {}  # proposal id -> its sample, for approved ones not in the pool yet
    seen = set()
    for item in items:
        if item.status == "approved":
            sample = item.sample()
            if sample.id not in seen and not session.samples.known([sample.id]):
                chosen[item.id] = sample
                seen.add(sample.id)
    repairs, expansions = [], []
    with session.conn:
        store.add(list(chosen.values()), round=round)
        for item in items:
            if item.status == "rejected":
                session.trace.decision(item.parent_id or item.sample_id, "review", f"{item.kind}_rejected",
                                       reason=item.note or f"rejected by {item.decided_by}", round=round)
                continue
            sample = chosen.get(item.id)
            if sample is None:
                continue  # pending, or its sample was in the pool already
            if item.kind == "repair":
                store.set_status([item.parent_id], Status.DROPPED, f"replaced_by:{sample.id}")
                repairs.append(sample.id)
            else:
                expansions.append(sample)
                overall = item.payload.get("judge_overall")
                if overall is not None:
                    record_verdicts(session, [Judgement(sample.id, "llm", float(overall), round=round)], round)
            by = "curation" if item.decided_by == "auto" else "review"
            session.trace.decision(sample.id, by, f"{item.kind}_applied", reason=item.summary, round=round)
        labels = nearest_clusters(session, expansions)
        if labels:
            store.set_tags({i: {"cluster": [str(c)]} for i, c in labels.items()})
        applied = {"repairs": len(repairs), "expansions": len(expansions)}
        record_outcome(session, round, finished=True, applied=applied)
        session.set_meta(APPLIED_META, {**done, str(round): repairs})
    return Applied(repairs, applied)
