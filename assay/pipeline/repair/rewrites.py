"""Repair: which samples a rewrite could fix, and the round's rewrites as proposals.

A rewrite the pairwise judge prefers becomes a proposal (assay/session/proposals.py); the
apply step brings approved ones into the pool. Progress is kept in the session's meta as
each sample finishes, so a re-run after a kill repairs only the rest.
"""

from __future__ import annotations

from typing import Any

from assay.core.config import Targets
from assay.core.plan import Plan
from assay.core.records import Status
from assay.pipeline.rounds import record_outcome
from assay.session.judgements import latest_judgements
from assay.session.proposals import propose, sample_payload

REPAIR_META = "repair_progress"  # the current round's repairs done so far, see `_repair_progress`
FIXABLE = {"wrong_answer", "incomplete", "truncated", "ambiguous_instruction", "spurious_cue", "format"}
DEFAULT_REPAIR_BELOW = 3.0


def repair_threshold(targets: Targets) -> float:
    """The score under which a sample is worth repairing: the floor, else the mean target, else 3."""
    return targets.quality_floor or targets.min_mean_quality or DEFAULT_REPAIR_BELOW


def repairable(session: Any, threshold: float) -> list[str]:
    """Active samples scored under `threshold` with an issue a rewrite can fix, not repaired before; worst first.

    A repair that failed (the provider, not the judge's preference) does not count as tried
    until it has failed `judge.max_attempts` times: a later round tries it again.
    """
    limit = session.config.judge.max_attempts
    rows = session.conn.execute(
        "SELECT sample_id, SUM(action = 'rewrite_failed'), SUM(action != 'rewrite_failed') FROM decisions"
        " WHERE agent = 'rewriter' GROUP BY sample_id")
    tried = {r[0] for r in rows if r[2] or r[1] >= limit}
    active = {s.id for s in session.samples.iter(status=Status.ACTIVE)}
    verdicts = latest_judgements(session.conn, active)
    found = [(v.overall, i) for i, v in verdicts.items()
             if v.ok and v.overall < threshold and i not in tried and any(x.get("type") in FIXABLE for x in v.issues)]
    return [i for _, i in sorted(found)]


async def run_repairs(deps: Any, plan: Plan, round: int) -> str | None:
    """Rewrite the plan's samples; accepted rewrites become proposals. Returns the budget message, if spent."""
    from assay.agents.judge import Issue
    from assay.agents.rewriter import repair
    from assay.core.concurrency import run_chunked
    from assay.pipeline.rubric.in_force import pairwise_rubric

    session = deps.session
    rubric = pairwise_rubric(session.config.judge)  # the recipe's own rubric (or a refined one), else none
    verdicts = latest_judgements(session.conn, plan.sample_ids)
    samples = session.samples.get(plan.sample_ids)
    rewriter, judge = deps.agent("rewriter", round), deps.agent("judge", round)
    progress = _repair_progress(session, round, plan.sample_ids)
    done = progress["done"]
    deps.emit("stage", {"name": "repair", "total": len(samples)})
    if done:
        deps.emit("advance", {"name": "repair", "n": len(done)})

    async def one(sample: Any) -> None:
        issues = [Issue(**i) for i in verdicts[sample.id].issues if i.get("type") in FIXABLE]
        outcome = await repair(rewriter, judge, sample, issues, round=round, rubric=rubric)
        # No await since `repair` traced its decision: mark the sample done before anything else runs.
        new = outcome.rewritten if outcome.accepted else None
        done[sample.id] = None if new is None else {
            "sample_id": new.id, "summary": f"rewrite of {sample.id}: {outcome.reason}",
            "payload": sample_payload(new, changes=list(outcome.rewrite.changes) if outcome.rewrite else [])}
        session.set_meta(REPAIR_META, progress)

    todo = [s for s in samples if s.id not in done]  # a re-run after a kill repairs only the rest
    _, spent = await run_chunked(todo, one, 16, lambda: deps.emit("advance", {"name": "repair", "n": 1}))
    accepted = [(s.id, done[s.id]) for s in samples if done.get(s.id) is not None]
    outcome_counts = {"attempted": sum(s.id in done for s in samples), "accepted": len(accepted)}
    with session.conn:  # the round's proposals and its outcome land together, in the plan's order
        for original_id, new in accepted:
            propose(session.conn, session.runtime.clock, round=round, kind="repair",
                    sample_id=new["sample_id"], parent_id=original_id, auto_approve=not deps.options.review,
                    summary=new["summary"], payload=new["payload"])
        record_outcome(session, round, repair=outcome_counts)
    deps.emit("repaired", outcome_counts)
    return spent or None


def _repair_progress(session: Any, round: int, sample_ids: list[str]) -> dict[str, Any]:
    """The round's repairs done so far (sample -> its accepted rewrite, or None), kept in `meta`."""
    stored = session.meta(REPAIR_META)
    if stored is not None and stored["round"] == round and stored["sample_ids"] == list(sample_ids):
        return dict(stored)
    return {"round": round, "sample_ids": list(sample_ids), "done": {}}
