"""What every agent shares: the context it runs in and the one way it asks a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from assay.llm.gateway import Gateway, LLMResult
from assay.prompts import load_prompt

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class AgentContext:
    """The gateway, the model and the call parameters an agent uses; built once per run."""

    gateway: Gateway
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    round: int | None = None

    @classmethod
    def for_session(cls, session: Any, role: str, *, round: int | None = None) -> AgentContext:
        """The context for an agent role in a session (its model, temperature and seed)."""
        llm = session.config.llm
        return cls(session.gateway, session.model_for(role), {"temperature": llm.temperature, "seed": llm.seed}, round)


async def ask(
    ctx: AgentContext,
    *,
    agent: str,
    prompt: str,
    output_type: type[T],
    sample_ids: Sequence[str] = (),
    params: dict[str, Any] | None = None,
    **variables: Any,
) -> LLMResult[T]:
    """Render `prompts/<prompt>.j2` with `variables` and ask the model for an `output_type`."""
    template = load_prompt(prompt)
    return await ctx.gateway.complete(
        agent=agent,
        model=ctx.model,
        messages=template.render(**variables),
        output_type=output_type,
        prompt_version=template.version,
        sample_ids=sample_ids,
        params={**ctx.params, **(params or {})},
        round=ctx.round,
    )
