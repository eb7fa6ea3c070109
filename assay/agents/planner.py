"""The LLM planner: inspects the gap and chooses the next operation and its arguments.

The AutoDCWorkflow pattern: the model sees the targets, the metrics, the rounds so far and
the actions that could do something now, and answers with a structured choice. The choice
is checked against the allowed actions and the known clusters and topics; a failed call or
an answer outside them falls back to the deterministic policy, and the trace says so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.graphs.planner import PlanningInput, allowed_actions
from assay.graphs.state import Plan

RATIONALE_HINT_CHARS = 400


class PlannerChoice(BaseModel):
    """The planner's answer: an action, its arguments and why."""

    action: Literal["repair", "expand", "finish"]
    rationale: str = Field(json_schema_extra={"maxLength": RATIONALE_HINT_CHARS})
    clusters: list[int] = Field(default_factory=list, max_length=5, description="expand: clusters to grow")
    topics: list[str] = Field(default_factory=list, max_length=5, description="expand: topics to grow")
    n: int = Field(0, ge=0, le=1000, description="expand: new samples to aim for")

    @field_validator("rationale")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rationale must not be empty")
        return value.strip()


def check_choice(choice: PlannerChoice, given: PlanningInput) -> str | None:
    """Why the choice cannot be carried out, or None when it can."""
    allowed = allowed_actions(given)
    if choice.action not in allowed:
        return f"action {choice.action!r} is not allowed now (allowed: {', '.join(allowed)})"
    if choice.action == "expand":
        m = given.measurement
        known = set(m.cluster_counts) | set(m.under_covered)
        unknown = [c for c in choice.clusters if c not in known]
        if unknown:
            return f"unknown clusters {unknown}"
        strange = [t for t in choice.topics if t not in m.uncovered_topics]
        if strange:
            return f"topics {strange} are not among the uncovered topics"
        if not choice.clusters and not choice.topics:
            return "expand names no cluster or topic"
    return None


async def llm_plan(ctx: AgentContext, given: PlanningInput, *, fallback: Plan) -> Plan:
    """The model's plan when it is valid, else `fallback` (the policy's) with the reason recorded."""
    m = given.measurement
    result = await ask(
        ctx, agent="planner", prompt="planner", output_type=PlannerChoice,
        targets=m.targets, metrics=m.metrics, history=list(given.history), allowed=allowed_actions(given),
        repairable=len(given.repairable), repair_batch=given.repair_batch, expand_batch=given.expand_batch,
        under_covered={c: m.cluster_counts.get(c, 0) for c in m.under_covered[:10]},
        uncovered_topics=m.uncovered_topics, default_action=fallback.action, default_rationale=fallback.rationale,
    )
    trace = ctx.gateway.trace
    problem = result.error if result.value is None else check_choice(result.value, given)
    if problem is not None:
        trace.decision(None, "planner", "llm_plan_rejected", reason=problem, call_ids=result.call_ids, round=ctx.round)
        return fallback.model_copy(update={"rationale": f"{fallback.rationale} (LLM planner answer rejected: {problem})"})
    choice = result.value
    trace.decision(None, "planner", f"llm_plan_{choice.action}", reason=choice.rationale, call_ids=result.call_ids,
                   round=ctx.round)
    if choice.action == "repair":
        return Plan(action="repair", rationale=choice.rationale, sample_ids=list(given.repairable[: given.repair_batch]),
                    planner="llm")
    if choice.action == "expand":
        n = max(1, min(choice.n or given.expand_batch, given.expand_batch))
        return Plan(action="expand", rationale=choice.rationale, clusters=choice.clusters, topics=choice.topics, n=n,
                    planner="llm")
    return Plan(action="finish", rationale=choice.rationale, planner="llm")
