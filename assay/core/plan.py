"""The curation loop's plain data: targets and their status, a round's plan and record, a measurement.

Shared by the services that measure and plan (assay/pipeline), the LLM planner agent, the
graph's state and the report; values only, no behaviour that reads a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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


@dataclass(frozen=True)
class Measurement:
    """The round's metrics, the status of each target, and the pool facts the planner uses."""

    metrics: dict[str, float | None]
    targets: list[TargetStatus]
    cluster_counts: dict[int, int]  # cluster -> active samples at or above the floor
    under_covered: list[int]  # clusters below the per-cluster minimum, emptiest first
    uncovered_topics: list[str]

    @property
    def all_met(self) -> bool:
        """Whether every target the recipe set is met."""
        return all(t.met for t in self.targets)
