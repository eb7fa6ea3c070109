"""Nodes that bring samples into the pool and assess them: ingest, screen, judge, measure.

Each node reads the state, calls its service in assay/pipeline with the run's dependencies
(`runtime.context`), and returns a partial update. The services are idempotent, so a node
killed half-way and run again after `assay resume` does only what is left.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from assay.graphs.state import CurationState
from assay.pipeline.deps import CurationDeps


async def ingest(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Read the input files into the session (embedding and storing what is new)."""
    from assay.pipeline.screen.pool import ingest_inputs

    ingest_inputs(runtime.context)
    return {}


async def screen(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Screen the samples of this round with the LLM-free tools (round 0: the whole pool)."""
    from assay.pipeline.engine.session_screen import screen_round

    screen_round(runtime.context, state.round, state.proposed_ids)
    return {}


async def judge(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Judge every active sample that has no verdict yet (and retry the failed ones)."""
    from assay.pipeline.judge.round import judge_pending

    report = await judge_pending(runtime.context, state.round)
    if report is not None and report.budget_spent:
        return {"stop_reason": "budget_spent", "stop_message": report.budget_spent}
    return {}


async def measure(state: CurationState, runtime: Runtime[CurationDeps]) -> dict[str, Any]:
    """Compute the targeted metrics and the gap to each target, once a round: plan reads it from the state."""
    from assay.pipeline.plan.measure import measure_run

    deps = runtime.context
    found = measure_run(deps)
    deps.emit("measured", {"round": state.round, "metrics": found.metrics,
                           "targets": [t.model_dump() for t in found.targets]})
    return {"metrics": found.metrics, "targets": found.targets, "measurement": found}
