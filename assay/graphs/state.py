"""The curation graph's state: ids, metrics, the plan and the history, never the samples.

Samples live in the session DB; the state is what the loop needs to decide and to resume,
small enough to checkpoint after every node.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Action = Literal["repair", "expand", "select", "finish"]
StopReason = Literal["targets_met", "budget_spent", "max_rounds", "no_progress", "nothing_to_do", "export_rejected"]


class TargetStatus(BaseModel):
    """One target of the recipe: what was asked, what the pool has now, and whether it is met."""

    name: str
    target: float
    achieved: float | None
    met: bool
    detail: str = ""


class Plan(BaseModel):
    """The planner's choice for the next round, with its arguments and rationale."""

    action: Action
    rationale: str
    sample_ids: list[str] = Field(default_factory=list, description="repair: the samples to repair")
    clusters: list[int] = Field(default_factory=list, description="expand: the under-covered clusters")
    topics: list[str] = Field(default_factory=list, description="expand: the uncovered topics")
    n: int = Field(0, ge=0, description="expand: how many new samples to aim for")
    planner: Literal["policy", "llm"] = "policy"


class RoundRecord(BaseModel):
    """What one round did, for the report and the no-progress check."""

    round: int
    action: Action
    rationale: str
    metrics: dict[str, float | None]
    outcome: dict[str, Any] = Field(default_factory=dict)


class CurationState(BaseModel):
    """What the loop carries between nodes; checkpointed after each one."""

    round: int = 0
    metrics: dict[str, float | None] = Field(default_factory=dict)
    targets: list[TargetStatus] = Field(default_factory=list)
    plan: Plan | None = None
    history: Annotated[list[RoundRecord], operator.add] = Field(default_factory=list)
    proposed_ids: list[str] = Field(default_factory=list, description="samples proposed this round, for review")
    stop_reason: StopReason | None = None
    stop_message: str = ""
    exported: dict[str, str] = Field(default_factory=dict, description="file kind -> path")


def checkpoint_serializer() -> object:
    """LangGraph's serializer, allowed to rebuild exactly the state's own models from a checkpoint."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    models = (CurationState, TargetStatus, Plan, RoundRecord)
    return JsonPlusSerializer(allowed_msgpack_modules=[(m.__module__, m.__name__) for m in models])
