"""Attributes: a seed sample's topic and knowledge as triplets, and new related ones (AIDE).

Following AIDE (Code4Graph/AIDE), a sample is read as a small knowledge graph: its topic
(the task it asks for, e.g. "code generation") linked to the concepts it uses by short
relations — [topic, relation, attribute]. Expansion then proposes triplets with the same
topic whose attributes the sample does not use yet; the synthesizer writes new samples
along them. Both come back from one call.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from assay.agents.base import AgentContext, ask
from assay.agents.text_fields import NonBlankStr
from assay.llm.gateway import LLMResult
from assay.core.records import Sample

MAX_TRIPLETS = 8
# AIDE asks for three related concepts; a few more help long samples. The schema allows
# MAX_TRIPLETS so that one triplet too many is not a failed call.
TRIPLETS_ASKED = 5
# Schema-only length hints for a constrained decoder (validation does not enforce them).
PHRASE_HINT_CHARS = 60
MAX_PROPOSED = 10


class Triplet(BaseModel):
    """One edge of the sample's knowledge graph: [topic, relation, attribute]."""

    topic: NonBlankStr = Field(description="the topic, as in the set's topic",
                               json_schema_extra={"maxLength": PHRASE_HINT_CHARS})
    relation: NonBlankStr = Field(description="a short verb phrase: uses, involves, asks about …",
                                  json_schema_extra={"maxLength": PHRASE_HINT_CHARS})
    attribute: NonBlankStr = Field(description="a concept of one to three words",
                                   json_schema_extra={"maxLength": PHRASE_HINT_CHARS})

    def key(self) -> str:
        """What makes two triplets the same knowledge: the attribute, case-blind."""
        return self.attribute.casefold()


def _drop_blank_triplets(values: Any) -> Any:
    """Remove triplets with an empty part (a small model pads lists with them)."""
    if not isinstance(values, list):
        return values
    return [v for v in values if not (isinstance(v, dict) and any(
        isinstance(v.get(part), str) and not v[part].strip() for part in ("topic", "relation", "attribute")))]


class AttributeSet(BaseModel):
    """A sample's topic, the triplets it contains, and proposed new triplets absent from it."""

    topic: NonBlankStr = Field(description="the task the sample asks for, in a few words",
                               json_schema_extra={"maxLength": PHRASE_HINT_CHARS})
    triplets: list[Triplet] = Field(max_length=MAX_TRIPLETS, description="knowledge the sample uses")
    proposed: list[Triplet] = Field(max_length=MAX_PROPOSED, description="related knowledge the sample does not use")

    @field_validator("triplets", "proposed", mode="before")
    @classmethod
    def _drop_blank(cls, values: Any) -> Any:
        return _drop_blank_triplets(values)

    @model_validator(mode="after")
    def _proposed_are_new(self) -> AttributeSet:
        # A proposal that repeats the sample's own knowledge (or another proposal) expands nothing.
        seen = {t.key() for t in self.triplets}
        fresh = []
        for triplet in self.proposed:
            if triplet.key() not in seen:
                seen.add(triplet.key())
                fresh.append(triplet)
        self.proposed = fresh
        return self


async def extract_attributes(ctx: AgentContext, sample: Sample, *, n_proposed: int = 3) -> LLMResult[AttributeSet]:
    """The sample's topic and triplets, and up to `n_proposed` new related triplets."""
    if not 1 <= n_proposed <= MAX_PROPOSED:
        raise ValueError(f"n_proposed must be between 1 and {MAX_PROPOSED}, not {n_proposed}")
    result = await ask(
        ctx, agent="decomposer", prompt="decompose_attributes", output_type=AttributeSet, sample_ids=[sample.id],
        instruction=sample.instruction, response=sample.response, n_proposed=n_proposed,
        max_triplets=TRIPLETS_ASKED,
    )
    if result.value is None or len(result.value.proposed) <= n_proposed:
        return result
    trimmed = result.value.model_copy(update={"proposed": result.value.proposed[:n_proposed]})
    return dataclasses.replace(result, value=trimmed)
