"""Claims: split a response into typed sentences and self-contained atomic claims.

One call returns both: the sentences of the response, each typed fact / opinion /
instruction / other, and the atomic claims of its factual sentences (pronouns resolved,
conjunctions split), which the verifier checks one by one (factuality = supported / total).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.agents.text_fields import NonBlankStr
from assay.agents.judge import conversation_parts
from assay.llm.gateway import LLMResult
from assay.core.records import Sample

SentenceKind = Literal["fact", "opinion", "instruction", "other"]
SENTENCE_KINDS: tuple[SentenceKind, ...] = ("fact", "opinion", "instruction", "other")
# Long answers in CACDD have up to 38 sentences and 41 claims; the caps leave room above that
# while bounding what a small model under a grammar can emit.
MAX_SENTENCES = 48
MAX_CLAIMS = 64
# Schema-only length hints (as in the judge): a constrained decoder stops a string there instead
# of looping inside it; validation does not enforce them, so a verbose real model still passes.
SENTENCE_HINT_CHARS = 400
CLAIM_HINT_CHARS = 300
ClaimText = Annotated[str, Field(json_schema_extra={"maxLength": CLAIM_HINT_CHARS})]


def clean_texts(values: Any) -> Any:
    """Strip each string and drop the empty ones and exact repeats, keeping order.

    Anything that is not a list of strings is passed on untouched, for pydantic to reject.
    """
    if not isinstance(values, list):
        return values
    kept: list[Any] = []
    for value in values:
        if isinstance(value, str):
            value = value.strip()
            if not value or value in kept:
                continue
        kept.append(value)
    return kept


class Sentence(BaseModel):
    """One sentence of the response, as written, with its kind."""

    text: NonBlankStr = Field(description="the sentence, copied from the response",
                              json_schema_extra={"maxLength": SENTENCE_HINT_CHARS})
    kind: SentenceKind = Field(description="fact, opinion, instruction or other")

    @field_validator("kind", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        # "Fact" and " fact" mean fact; anything else still fails the Literal check.
        return value.strip().lower() if isinstance(value, str) else value


class ClaimSet(BaseModel):
    """The response's sentences, typed, and the atomic claims of its factual sentences."""

    sentences: list[Sentence] = Field(max_length=MAX_SENTENCES, description="every sentence of the response, in order")
    claims: list[ClaimText] = Field(max_length=MAX_CLAIMS,
                                    description="self-contained atomic claims of the fact sentences")

    @field_validator("sentences", mode="before")
    @classmethod
    def _drop_empty_sentences(cls, values: Any) -> Any:
        if not isinstance(values, list):
            return values
        return [v for v in values if not (isinstance(v, dict) and isinstance(v.get("text"), str)
                                          and not v["text"].strip())]

    @field_validator("claims", mode="before")
    @classmethod
    def _clean_claims(cls, values: Any) -> Any:
        return clean_texts(values)


async def extract_claims(ctx: AgentContext, sample: Sample) -> LLMResult[ClaimSet]:
    """The typed sentences and atomic claims of the sample's last response (in the response's language).

    The question is the user turn the response answers (as the judge reads it), so that
    references in a multi-turn sample resolve against what was actually asked.
    """
    parts = conversation_parts(sample)
    return await ask(
        ctx, agent="decomposer", prompt="decompose_claims", output_type=ClaimSet, sample_ids=[sample.id],
        instruction=parts["instruction"], response=parts["response"],
    )
