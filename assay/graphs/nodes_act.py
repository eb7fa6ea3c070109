"""Nodes that change the pool: plan, repair, expand, the review gate, and apply.

Repairs and expansions become proposals first (assay/session/proposals.py); `apply` moves the
approved ones into the pool. In review mode the gate between them interrupts the graph
until every proposal of the round is decided. The work is the services' (assay/pipeline).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from assay.core.plan import RoundRecord
from assay.graphs.state import CurationState
from assay.pipeline.deps import CurationDeps


async def plan(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Stop, or choose the next round's action, from the measurement the measure node took."""
    from assay.pipeline.plan.measure import measure_run
    from assay.pipeline.plan.round import plan_round

    deps = runtime.context
    # A checkpoint written before the state carried the measurement has none: take it here.
    found = state.measurement or measure_run(deps)
    decided = await plan_round(deps, found, round=state.round, history=state.history,
                               stop_reason=state.stop_reason, stop_message=state.stop_message)
    chosen = decided.plan
    if decided.stopped:
        return {"plan": chosen, "stop_reason": decided.stop_reason, "stop_message": decided.stop_message}
    update: dict[str, Any] = {"plan": chosen}
    if decided.stop_reason is not None:
        update.update(stop_reason=decided.stop_reason, stop_message=decided.stop_message)
    else:
        update.update(round=decided.round, proposed_ids=[],
                      history=[RoundRecord(round=decided.round, action=chosen.action, rationale=chosen.rationale,
                                           metrics=found.metrics)])
    deps.emit("plan", {"round": decided.round, "action": chosen.action, "rationale": chosen.rationale})
    return update


def _budget_stop(spent: str | None) -> dict[str, Any]:
    return {"stop_reason": "budget_spent", "stop_message": spent} if spent else {}


async def repair(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Rewrite the planned samples; rewrites the pairwise judge prefers become proposals."""
    from assay.pipeline.repair.rewrites import run_repairs

    return _budget_stop(await run_repairs(runtime.context, state.plan, state.round))


async def expand(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Grow under-covered clusters or topics with the synthesizer; what passes becomes proposals."""
    from assay.graphs.expansion_jobs import run_expansion
    from assay.pipeline.rounds import record_outcome

    deps = runtime.context
    report, spent = await run_expansion(deps, state.plan, state.round)
    record_outcome(deps.session, state.round, expand={"kept": report["kept"], "rejected": report["rejected"]})
    deps.emit("expanded", report)
    return _budget_stop(spent)


async def review_gate(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """In review mode, wait (interrupt) until every proposal of this round is decided; then, with `[rubric] refine`,
    refine the judge's rubric from the decisions (pipeline/rubric/in_run.py)."""
    from assay.pipeline.repair.review_gate import pending_proposals

    deps = runtime.context
    if not deps.options.review:
        return {}
    session = deps.session
    while pending := pending_proposals(session, state.round):
        interrupt({"round": state.round, "pending": pending,
                   "message": f"{pending} proposals wait for review: assay review {session.dir}"})
    if state.stop_reason is not None:
        return {}
    from assay.pipeline.rubric.in_run import refine_after_review

    # With [rubric] refine: the decisions are in, the next round is not judged yet.
    return _budget_stop((await refine_after_review(deps, state.round)).budget_spent)


async def apply(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Move approved proposals into the pool (once a round); the repairs are screened next."""
    from assay.pipeline.repair.apply import apply_round

    deps = runtime.context
    applied = apply_round(deps.session, state.round)
    if applied.counts is not None:  # None: applied before (a re-run after a kill), nothing new to show
        deps.emit("applied", applied.counts)
    return {"proposed_ids": applied.repairs}
