"""What the curation services work with besides the graph's state: the session, the run's options,
a sink for progress and the report writer. Built once per process (run or resume) and handed
to the curation graph as its runtime context (`context_schema`), so nodes read it from
`runtime.context` and pass it to the services here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from pydantic.json_schema import SkipJsonSchema

from assay.agents.base import AgentContext
from assay.core.config import AgentRole

SelectionMethod = Literal["mig", "deita", "kcenter", "random"]
ReportWriter = Callable[[Any, Any, Path], Path]  # (session, state, path) -> the written report


class RunOptions(BaseModel):
    """How `assay run` curates; stored in the session so `assay resume` continues the same way."""

    inputs: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list, description="--field mappings, NAME=COLUMN, the inputs are read with")
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
    selection: str = Field("deita", description="a built-in selector (SelectionMethod) or an installed selector plugin")
    expand_depth: int = Field(2, ge=1)
    min_synth_quality: float = Field(3.5, ge=1, le=5)

    @field_validator("selection")
    @classmethod
    def _known_selector(cls, value: str) -> str:
        from assay.pipeline.plugins import selector_names

        names = selector_names()  # the built-in methods, then any installed selector plugins
        if value not in names:
            raise PydanticCustomError("unknown_selector", "'{value}' is not one of {names}",
                                      {"value": value, "names": ", ".join(names)})
        return value


@dataclass
class CurationDeps:
    """The session and options the services use; `emit` reports progress to the CLI.

    `write_report` writes report.html at export: the interface layer fills it with
    assay.report's writer (a service cannot import the report layer above it). Required: an
    export without its report would leave the session unfinished on every resume.
    """

    session: Any
    options: RunOptions
    write_report: SkipJsonSchema[ReportWriter]
    # Not data a client could send: left out of the context's JSON schema (LangGraph Studio shows it).
    emit: SkipJsonSchema[Callable[[str, dict[str, Any]], None]] = field(default=lambda kind, data: None)
    contexts: SkipJsonSchema[dict[tuple[str, int], Any]] = field(default_factory=dict)  # AgentContext per (role, round)

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
