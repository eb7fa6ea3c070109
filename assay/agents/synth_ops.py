"""The synthesizer's single model calls: plan a request, evolve, create from a persona, answer.

Each is one prompt (prompts/synth_*.j2) and one small output model, so a small model
under a JSON grammar can fill it. The AIDE operations (Code4Graph/AIDE, ACL 2025) are
`reasoning`, `concrete` and `constraint` rewrites along one attribute, and the persona
branch for diversity; past the first hop each prompt also shows the seed instruction
(AIDE's residual connection) so the evolved instruction stays on the seed's task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.agents.text_fields import NonBlankStr
from assay.llm.gateway import LLMResult

EvolveOp = Literal["reasoning", "concrete", "constraint"]
EVOLVE_OPS: tuple[str, ...] = ("reasoning", "concrete", "constraint")
PERSONA_OP = "persona"
OPS: tuple[str, ...] = (*EVOLVE_OPS, PERSONA_OP)
MAX_LABEL_CHARS = 80
# Schema-only length hints (as in the judge): a constrained decoder stops there instead of looping
# inside a string; validation does not enforce them, so a verbose real model still passes.
LABEL_HINT_CHARS = 40
MAX_ATTRIBUTES = 6
MAX_PERSONAS = 4
_LABEL_ITEMS = {"type": "string", "maxLength": LABEL_HINT_CHARS}
INSTRUCTION_HINT_CHARS = 500
EXAMPLE_HINT_CHARS = 300  # with the lists, the whole plan must fit the embedded model's 512 new tokens
RESPONSE_HINT_CHARS = 1600
_SPACES = re.compile(r"\s+")


def clean_label(text: str) -> str:
    """A topic, attribute or persona as one trimmed line (a small model pads with newlines)."""
    return _SPACES.sub(" ", text).strip().strip("\"'.;,")[:MAX_LABEL_CHARS].strip()


def distinct_labels(values: Sequence[str]) -> list[str]:
    """Cleaned labels, empties and case-blind repeats removed, order kept."""
    seen: set[str] = set()
    kept = []
    for value in values:
        label = clean_label(value)
        if label and label.casefold() not in seen:
            seen.add(label.casefold())
            kept.append(label)
    return kept


class RequestPlan(BaseModel):
    """A natural-language request turned into the topic and attributes to synthesize along."""

    topic: str = Field(min_length=1, description="the task the samples ask for, in two to four words",
                       json_schema_extra={"maxLength": LABEL_HINT_CHARS})
    # maxItems guides a constrained decoder; a free model's extra items are cut after dedup, not a failure.
    attributes: list[str] = Field(min_length=1, description="concepts or skills each sample exercises",
                                  json_schema_extra={"maxItems": MAX_ATTRIBUTES, "items": _LABEL_ITEMS})
    personas: list[str] = Field(default_factory=list, description="people who would ask such questions",
                                json_schema_extra={"maxItems": MAX_PERSONAS, "items": _LABEL_ITEMS})
    example_instruction: NonBlankStr = Field(description="one instruction that fits the request",
                                             json_schema_extra={"maxLength": EXAMPLE_HINT_CHARS})

    @field_validator("topic", mode="after")
    @classmethod
    def _clean_topic(cls, value: str) -> str:
        cleaned = clean_label(value)
        if not cleaned:
            raise ValueError("the topic is blank")
        return cleaned

    @field_validator("attributes", mode="after")
    @classmethod
    def _clean_attributes(cls, values: list[str]) -> list[str]:
        cleaned = distinct_labels(values)[:MAX_ATTRIBUTES]
        if not cleaned:
            raise ValueError("every attribute is blank")
        return cleaned

    @field_validator("personas", mode="after")
    @classmethod
    def _clean_personas(cls, values: list[str]) -> list[str]:
        return distinct_labels(values)[:MAX_PERSONAS]


class _Instruction(BaseModel):
    instruction: NonBlankStr = Field(description="the instruction alone, without an answer",
                                     json_schema_extra={"maxLength": INSTRUCTION_HINT_CHARS})


class EvolvedInstruction(_Instruction):
    """An instruction rewritten along one operation and attribute."""


class PersonaInstruction(_Instruction):
    """A new instruction a persona would ask, in the seed's domain."""


class WrittenResponse(BaseModel):
    """The answer written for a synthesized instruction."""

    response: NonBlankStr = Field(description="the complete answer",
                                  json_schema_extra={"maxLength": RESPONSE_HINT_CHARS})


async def plan_request(ctx: AgentContext, request: str) -> LLMResult[RequestPlan]:
    """Topic, attributes, personas and an example instruction for a request such as "200 hard SQL questions"."""
    return await ask(ctx, agent="synthesizer", prompt="synth_request", output_type=RequestPlan, request=request)


async def evolve_instruction(ctx: AgentContext, *, op: str, parent: str, seed: str, hop: int, topic: str,
                             attribute: str, request: str, sample_ids: Sequence[str] = ()) -> LLMResult[EvolvedInstruction]:
    """Rewrite `parent` along `op` (reasoning, concrete or constraint) to build in `attribute`.

    From hop 2 on, the prompt also holds the seed instruction: the residual link that keeps
    a chain of rewrites on the seed's task.
    """
    if op not in EVOLVE_OPS:
        raise ValueError(f"unknown evolve operation {op!r}; choose from {EVOLVE_OPS}")
    return await ask(ctx, agent="synthesizer", prompt="synth_evolve", output_type=EvolvedInstruction,
                     sample_ids=sample_ids, **_hop_vars(parent, seed, hop, topic, request), op=op, attribute=attribute)


async def persona_instruction(ctx: AgentContext, *, persona: str, parent: str, seed: str, hop: int, topic: str,
                              request: str, sample_ids: Sequence[str] = ()) -> LLMResult[PersonaInstruction]:
    """A new instruction that `persona` would ask in `parent`'s domain (AIDE's diversity branch)."""
    return await ask(ctx, agent="synthesizer", prompt="synth_persona", output_type=PersonaInstruction,
                     sample_ids=sample_ids, **_hop_vars(parent, seed, hop, topic, request), persona=persona)


async def write_response(ctx: AgentContext, instruction: str, *, sample_ids: Sequence[str] = ()) -> LLMResult[WrittenResponse]:
    """The answer to a synthesized instruction."""
    return await ask(ctx, agent="synthesizer", prompt="synth_respond", output_type=WrittenResponse,
                     sample_ids=sample_ids, instruction=instruction)


def _hop_vars(parent: str, seed: str, hop: int, topic: str, request: str) -> dict[str, Any]:
    if hop < 1:
        raise ValueError(f"hops count from 1, not {hop}")
    return {"parent": parent, "seed": seed, "hop": hop, "topic": topic, "request": request}
