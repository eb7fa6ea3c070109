"""Nodes that change the pool: plan, repair, expand, the review gate, and apply.

Repairs and expansions become proposals first (assay/proposals.py); `apply` moves the
approved ones into the pool. In review mode the gate between them interrupts the graph
until every proposal of the round is decided.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.types import interrupt

from assay.graphs.deps import CurationDeps
from assay.graphs.measure import measure
from assay.graphs.planner import PlanningInput, made_progress, policy_plan
from assay.graphs.state import CurationState, Plan, RoundRecord
from assay.session.judgements import latest_judgements
from assay.session.proposals import propose, proposals, sample_payload
from assay.core.records import Status

APPLIED_META = "applied_rounds"  # round -> the repairs it applied, set in apply's own transaction
REPAIR_META = "repair_progress"  # the current round's repairs done so far, see `_repair_progress`
FIXABLE = {"wrong_answer", "incomplete", "truncated", "ambiguous_instruction", "spurious_cue", "format"}
DEFAULT_REPAIR_BELOW = 3.0


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


def make_plan(deps: CurationDeps):  # noqa: ANN201 - a LangGraph node
    """Stop, or choose the next round's action."""

    async def plan(state: CurationState) -> dict[str, Any]:
        session, options = deps.session, deps.options
        config = session.config
        found = measure(session, config.targets, cluster_min=options.cluster_min,
                        contamination_checked=bool(options.decontam))
        stop = _stop(state, found, config.budget.max_rounds)
        if stop is not None:
            reason, message = stop
            chosen = Plan(action="finish", rationale=message)
            _record_round(deps, state.round + 1, chosen, found.metrics)
            return {"plan": chosen, "stop_reason": reason, "stop_message": message}
        targets = config.targets
        threshold = targets.quality_floor or targets.min_mean_quality or DEFAULT_REPAIR_BELOW
        given = PlanningInput(found, state.history, repairable(session, threshold), options.repair_batch,
                              options.expand_batch, options.cluster_min, targets.size)
        chosen = policy_plan(given)
        if options.planner == "llm":
            from assay.agents.planner import llm_plan

            chosen = await llm_plan(deps.agent("planner", state.round + 1), given, fallback=chosen)
        next_round = state.round + 1
        _record_round(deps, next_round, chosen, found.metrics)
        update: dict[str, Any] = {"plan": chosen}
        if chosen.action == "finish":
            met = found.all_met
            update.update(stop_reason="targets_met" if met else "nothing_to_do", stop_message=chosen.rationale)
        else:
            update.update(round=next_round, proposed_ids=[],
                          history=[RoundRecord(round=next_round, action=chosen.action, rationale=chosen.rationale,
                                               metrics=found.metrics)])
        deps.emit("plan", {"round": next_round, "action": chosen.action, "rationale": chosen.rationale})
        return update

    return plan


def _stop(state: CurationState, found: Any, max_rounds: int) -> tuple[str, str] | None:
    """(reason, message) when the loop must stop before planning another round."""
    if state.stop_reason is not None:
        return state.stop_reason, state.stop_message or state.stop_reason
    if found.all_met:
        return "targets_met", "every target is met"
    if state.round >= max_rounds:
        return "max_rounds", f"stopped after {state.round} rounds (max_rounds = {max_rounds})"
    if not made_progress(state.history, found.metrics):
        return "no_progress", "no target metric improved over the last two rounds"
    return None


def _record_round(deps: CurationDeps, round: int, plan: Plan, metrics: dict[str, Any]) -> None:
    session = deps.session
    with session.conn:
        session.conn.execute(
            "INSERT OR REPLACE INTO rounds (round, action, rationale, planner, metrics, started_at) VALUES (?, ?, ?, ?, ?, ?)",
            (round, plan.action, plan.rationale, plan.planner, json.dumps(metrics), session.runtime.clock().isoformat()),
        )
        session.trace.event("plan", f"round {round}: {plan.action}: {plan.rationale}", plan.model_dump(), round=round)


def _record_outcome(deps: CurationDeps, round: int, *, finished: bool = False, **outcome: Any) -> None:
    """Merge what a step of the round did into its `rounds` row (and close the round)."""
    session = deps.session
    row = session.conn.execute("SELECT outcome FROM rounds WHERE round = ?", (round,)).fetchone()
    merged = {**(json.loads(row["outcome"]) if row else {}), **outcome}
    with session.conn:
        session.conn.execute("UPDATE rounds SET outcome = ?, finished_at = COALESCE(?, finished_at) WHERE round = ?",
                             (json.dumps(merged), session.runtime.clock().isoformat() if finished else None, round))


def make_repair(deps: CurationDeps):  # noqa: ANN201
    """Rewrite the planned samples; rewrites the pairwise judge prefers become proposals."""

    async def repair_node(state: CurationState) -> dict[str, Any]:
        from assay.agents.judge import Issue
        from assay.agents.rewriter import repair
        from assay.core.concurrency import run_chunked

        session, plan = deps.session, state.plan
        verdicts = latest_judgements(session.conn, plan.sample_ids)
        samples = session.samples.get(plan.sample_ids)
        rewriter, judge = deps.agent("rewriter", state.round), deps.agent("judge", state.round)
        progress = _repair_progress(session, state.round, plan.sample_ids)
        done = progress["done"]
        deps.emit("stage", {"name": "repair", "total": len(samples)})
        if done:
            deps.emit("advance", {"name": "repair", "n": len(done)})

        async def one(sample: Any) -> None:
            issues = [Issue(**i) for i in verdicts[sample.id].issues if i.get("type") in FIXABLE]
            outcome = await repair(rewriter, judge, sample, issues, round=state.round)
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
                propose(session.conn, session.runtime.clock, round=state.round, kind="repair",
                        sample_id=new["sample_id"], parent_id=original_id, auto_approve=not deps.options.review,
                        summary=new["summary"], payload=new["payload"])
            _record_outcome(deps, state.round, repair=outcome_counts)
        deps.emit("repaired", outcome_counts)
        return {"stop_reason": "budget_spent", "stop_message": spent} if spent else {}

    return repair_node


def _repair_progress(session: Any, round: int, sample_ids: list[str]) -> dict[str, Any]:
    """The round's repairs done so far (sample -> its accepted rewrite, or None), kept in `meta`."""
    stored = session.meta(REPAIR_META)
    if stored is not None and stored["round"] == round and stored["sample_ids"] == list(sample_ids):
        return dict(stored)
    return {"round": round, "sample_ids": list(sample_ids), "done": {}}


def make_expand(deps: CurationDeps):  # noqa: ANN201
    """Grow under-covered clusters or topics with the synthesizer; what passes becomes proposals."""

    async def expand_node(state: CurationState) -> dict[str, Any]:
        from assay.graphs.expansion_jobs import run_expansion

        report, spent = await run_expansion(deps, state.plan, state.round)
        _record_outcome(deps, state.round, expand={"kept": report["kept"], "rejected": report["rejected"]})
        deps.emit("expanded", report)
        return {"stop_reason": "budget_spent", "stop_message": spent} if spent else {}

    return expand_node


def make_review_gate(deps: CurationDeps):  # noqa: ANN201
    """In review mode, wait (interrupt) until every proposal of this round is decided."""

    async def review_gate(state: CurationState) -> dict[str, Any]:
        if not deps.options.review:
            return {}
        session = deps.session
        while pending := proposals(session.conn, round=state.round, status="pending"):
            interrupt({"round": state.round, "pending": len(pending),
                       "message": f"{len(pending)} proposals wait for review: assay review {session.dir}"})
        return {}

    return review_gate


def make_apply(deps: CurationDeps):  # noqa: ANN201
    """Move approved proposals into the pool; rejected ones are traced and left out.

    All of apply's writes are one transaction, marked done in the same transaction: a kill
    leaves the round's proposals either all applied or none, never a rewrite beside the
    original it replaces, and a re-run after the commit repeats nothing.
    """

    async def apply(state: CurationState) -> dict[str, Any]:
        from assay.graphs.clusters import nearest_clusters
        from assay.session.judgements import Judgement
        from assay.pipeline.judging import record_verdicts

        session = deps.session
        done = session.meta(APPLIED_META, {})
        if str(state.round) in done:
            return {"proposed_ids": done[str(state.round)]}
        store = session.store
        items = [p for p in proposals(session.conn, round=state.round) if p.kind != "export"]
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
            store.add(list(chosen.values()), round=state.round)
            for item in items:
                if item.status == "rejected":
                    session.trace.decision(item.parent_id or item.sample_id, "review", f"{item.kind}_rejected",
                                           reason=item.note or f"rejected by {item.decided_by}", round=state.round)
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
                        record_verdicts(session, [Judgement(sample.id, "llm", float(overall), round=state.round)],
                                        state.round)
                by = "curation" if item.decided_by == "auto" else "review"
                session.trace.decision(sample.id, by, f"{item.kind}_applied", reason=item.summary, round=state.round)
            labels = nearest_clusters(session, expansions)
            if labels:
                store.set_tags({i: {"cluster": [str(c)]} for i, c in labels.items()})
            applied = {"repairs": len(repairs), "expansions": len(expansions)}
            _record_outcome(deps, state.round, finished=True, applied=applied)
            session.set_meta(APPLIED_META, {**done, str(state.round): repairs})
        deps.emit("applied", applied)
        return {"proposed_ids": repairs}

    return apply
