"""Nodes that end a session: select the final dataset, the export gate, and export."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from assay.graphs.state import CurationState
from assay.pipeline.deps import CurationDeps


async def select(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Choose the final dataset: qualifying samples, down to the target size with the chosen selector.

    Unless the budget stopped the loop, samples whose judging failed get a last try first, and
    a MIG selection tags its candidates with their skills.
    """
    from assay.pipeline.plan.measure import measure_run
    from assay.pipeline.select.final import select_final

    spent = await select_final(runtime.context, state.round, budget_left=state.stop_reason != "budget_spent")
    # From here on the targets say what the export holds (40 exported, 124 qualified), not the
    # rounds' projection: the review gate, the summary and the report all show these.
    final = {"targets": measure_run(runtime.context, exported=True).targets}
    # The loop's own stop (targets met, rounds used up) stays the session's reason; the budget
    # that ran out in the final judging or tagging is in the trace and the selection's notes.
    return {**final, "stop_reason": "budget_spent", "stop_message": spent} if spent and state.stop_reason is None else final


async def export_gate(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """In review mode, hold the export until a person approves it."""
    from assay.pipeline.repair.review_gate import export_decision, export_pending, propose_export

    deps = runtime.context
    if not deps.options.review:
        return {}
    session = deps.session
    propose_export(session, state.stop_reason, state.stop_message, state.targets)
    while export_pending(session):
        interrupt({"pending": 1, "message": f"the export waits for review: assay review {session.dir}"})
    item = export_decision(session)
    if item.status == "rejected":
        return {"stop_reason": "export_rejected", "stop_message": item.note or "the export was rejected in review"}
    return {}


async def export(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Write curated.jsonl, rejected.jsonl, lineage.jsonl and report.html into the session folder."""
    from assay.pipeline.export import export_run

    deps = runtime.context
    written = {k: str(v) for k, v in export_run(deps, state).items()}
    deps.emit("exported", written)
    return {"exported": written}
