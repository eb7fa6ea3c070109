"""What the curation nodes work with besides the state: the session, the run's options, and
a sink for progress. Built once per process (run or resume) and closed over by the nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from assay.agents.base import AgentContext
from assay.core.config import AgentRole

SelectionMethod = Literal["mig", "deita", "kcenter", "random"]


class RunOptions(BaseModel):
    """How `assay run` curates; stored in the session so `assay resume` continues the same way."""

    inputs: list[str] = Field(default_factory=list)
    skip_invalid: bool = False
    dedup: list[str] = Field(default_factory=lambda: ["exact", "minhash"])
    decontam: list[str] = Field(default_factory=list)
    ifd: bool = False
    judge_sample: int | None = Field(None, ge=1, description="judge K per cluster by LLM, the rest by a classifier")
    planner: Literal["policy", "llm"] = "policy"
    review: bool = False
    repair_batch: int = Field(20, ge=1)
    expand_batch: int = Field(20, ge=1)
    cluster_min: int = Field(3, ge=1, description="good samples a cluster needs to count as covered")
    selection: SelectionMethod = "deita"
    expand_depth: int = Field(2, ge=1)
    min_synth_quality: float = Field(3.5, ge=1, le=5)


@dataclass
class CurationDeps:
    """The session and options the nodes close over; `emit` reports progress to the CLI."""

    session: Any
    options: RunOptions
    emit: Callable[[str, dict[str, Any]], None] = field(default=lambda kind, data: None)
    contexts: dict[tuple[str, int], AgentContext] = field(default_factory=dict)

    def agent(self, role: AgentRole, round: int) -> AgentContext:
        """The agent context for a role in a round (its calls are traced with the round)."""
        key = (role, round)
        if key not in self.contexts:
            self.contexts[key] = AgentContext.for_session(self.session, role, round=round)
        return self.contexts[key]

    @property
    def out_dir(self) -> Path:
        """Where the exports go: the session folder."""
        return Path(self.session.dir)
