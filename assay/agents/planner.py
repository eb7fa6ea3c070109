"""The LLM planner agent: shown the gap, it chooses the next operation and its arguments.

The AutoDCWorkflow pattern: the model sees the targets, the metrics, the rounds so far and
the actions that could do something now, and answers with a structured choice. It gets
plain values and returns its answer; checking the choice against the allowed actions and
falling back to the deterministic policy is the planning service's (pipeline/plan/round.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.llm.gateway import LLMResult

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


async def ask_planner(ctx: AgentContext, *, targets: Sequence[Any], metrics: dict[str, float | None],
                      history: Sequence[Any], allowed: Sequence[str], repairable: int, repair_batch: int,
                      expand_batch: int, under_covered: dict[int, int], uncovered_topics: Sequence[str],
                      default_action: str, default_rationale: str) -> LLMResult[PlannerChoice]:
    """Ask the model for its PlannerChoice; returns the gateway's result (value or error, call ids)."""
    return await ask(
        ctx, agent="planner", prompt="planner", output_type=PlannerChoice,
        targets=targets, metrics=metrics, history=list(history), allowed=list(allowed),
        repairable=repairable, repair_batch=repair_batch, expand_batch=expand_batch,
        under_covered=under_covered, uncovered_topics=list(uncovered_topics),
        default_action=default_action, default_rationale=default_rationale,
    )
