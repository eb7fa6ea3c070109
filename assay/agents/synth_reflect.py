"""Self-reflection (AIDE): score a candidate's relevance to its seed; repair it once when low.

AIDE rates each synthesized instruction 1-10 for relevance to the seed instruction and,
when the score is low, asks for an improved instruction from the seed and the reflection.
Here the repair happens once: a candidate still below the threshold after it is
discarded with the reason `irrelevant:<score>`, so a weak model cannot loop on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from assay.agents.base import AgentContext, ask
from assay.agents.text_fields import StrippedStr
from assay.agents.elimination import eliminate_instruction
from assay.agents.synth_ops import _Instruction
from assay.llm.gateway import LLMResult

DEFAULT_MIN_RELEVANCE = 6


class Relevance(BaseModel):
    """How relevant a candidate instruction is to its seed, 1 (unrelated) to 10 (same task)."""

    reason: StrippedStr = Field(description="one sentence", json_schema_extra={"maxLength": 160})
    score: int = Field(ge=1, le=10, description="relevance to the seed, 1 to 10")


class ImprovedInstruction(_Instruction):
    """A drifted candidate brought back to the seed's task."""


@dataclass
class Reflection:
    """The outcome of reflecting on one candidate instruction.

    `instruction` is the one to keep (the original or its repair); `rejection` says why
    there is none: `irrelevant:<score>`, an elimination reason for a bad repair, or
    `failed:<step>: <error>` when a call failed.
    """

    instruction: str | None
    score: int | None
    rejection: str | None = None
    improved: bool = False
    call_ids: list[int] = field(default_factory=list)


async def rate_relevance(ctx: AgentContext, *, seed: str, candidate: str,
                         sample_ids: Sequence[str] = ()) -> LLMResult[Relevance]:
    """The candidate's relevance to the seed instruction, with a reason."""
    return await ask(ctx, agent="synthesizer", prompt="synth_reflect", output_type=Relevance, sample_ids=sample_ids,
                     seed=seed, candidate=candidate)


async def improve_instruction(ctx: AgentContext, *, seed: str, candidate: str, rating: Relevance,
                              sample_ids: Sequence[str] = ()) -> LLMResult[ImprovedInstruction]:
    """Rewrite a drifted candidate back onto the seed's task, using the reviewer's reason."""
    return await ask(ctx, agent="synthesizer", prompt="synth_improve", output_type=ImprovedInstruction,
                     sample_ids=sample_ids, seed=seed, candidate=candidate, score=rating.score, reason=rating.reason)


async def reflect(ctx: AgentContext, *, seed: str, parent: str, candidate: str,
                  min_relevance: int = DEFAULT_MIN_RELEVANCE, sample_ids: Sequence[str] = ()) -> Reflection:
    """Rate the candidate; below `min_relevance`, improve it once and rate again.

    The repair is checked by the elimination rules against `parent` like any evolution.
    """
    calls: list[int] = []
    rated = await rate_relevance(ctx, seed=seed, candidate=candidate, sample_ids=sample_ids)
    calls += rated.call_ids
    if rated.value is None:
        return Reflection(None, None, _failed("reflect", rated), call_ids=calls)
    if rated.value.score >= min_relevance:
        return Reflection(candidate, rated.value.score, call_ids=calls)
    improved = await improve_instruction(ctx, seed=seed, candidate=candidate, rating=rated.value, sample_ids=sample_ids)
    calls += improved.call_ids
    if improved.value is None:
        return Reflection(None, rated.value.score, _failed("improve", improved), call_ids=calls)
    repaired = improved.value.instruction
    verdict = eliminate_instruction(repaired, parent)
    if not verdict.keep:
        return Reflection(None, rated.value.score, verdict.reason, improved=True, call_ids=calls)
    rerated = await rate_relevance(ctx, seed=seed, candidate=repaired, sample_ids=sample_ids)
    calls += rerated.call_ids
    if rerated.value is None:
        return Reflection(None, rated.value.score, _failed("reflect", rerated), improved=True, call_ids=calls)
    score = rerated.value.score
    if score < min_relevance:
        return Reflection(None, score, f"irrelevant:{score}", improved=True, call_ids=calls)
    return Reflection(repaired, score, improved=True, call_ids=calls)


def _failed(step: str, result: LLMResult[Any]) -> str:
    return f"failed:{step}: {result.error}"
