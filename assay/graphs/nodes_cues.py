"""The bias-cue node: after judging, detect cues once and (with `[cues] repair`) repair them as a round.

    judge → cues ─┬─ (nothing to do, or detection only) → measure
                  └─ (a cue repair round)                → review_gate → apply → screen → …

The node picks its successor itself (a LangGraph `Command`): whether a round opened is known only
once the session's findings are read. The work is the service's (pipeline/repair/cue_round.py).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command

from assay.graphs.state import CurationState
from assay.pipeline.deps import CurationDeps


async def cues(state: CurationState, runtime: Runtime[CurationDeps]) -> Command[Any]:
    """Run the cue stage when it is due (once a session); go on to measure, or to review its round's rewrites."""
    from assay.pipeline.repair.cue_round import due, run_cue_stage

    deps = runtime.context
    if state.stop_reason is not None or not due(deps.session):
        return Command(goto="measure")
    stage = await run_cue_stage(deps, state.round)
    if stage.round is None:
        return Command(goto="measure")
    update: dict[str, Any] = {"round": stage.round, "plan": stage.plan, "proposed_ids": [], "history": [stage.record]}
    if stage.budget_spent:
        update.update(stop_reason="budget_spent", stop_message=stage.budget_spent)
    return Command(update=update, goto="review_gate")
