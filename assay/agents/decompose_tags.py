"""Tags: the skills and intents a sample exercises, as short normalised labels.

MIG selection measures information gain over a graph of these labels, so the same skill
must always get the same string: every tag is normalised ("SQL Debugging!" and
"sql_debugging" are both "sql-debugging") and repeats are dropped.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.llm.gateway import LLMResult
from assay.core.records import Sample

MAX_TAG_CHARS = 40
MAX_TAGS = 10
_SEPARATORS = re.compile(r"[\s_/\\]+")
_NOT_TAG_CHARS = re.compile(r"[^\w-]")  # \w is Unicode-aware: letters and digits of any script stay
_DASH_RUNS = re.compile(r"-{2,}")
# Schema-only hint for a constrained decoder; normalise_tag cuts longer tags anyway.
TagText = Annotated[str, Field(json_schema_extra={"maxLength": MAX_TAG_CHARS})]


def normalise_tag(text: str) -> str:
    """A tag in canonical form: lowercase, hyphen-separated, no punctuation, at most 40 chars.

    Whitespace, underscores and slashes become one hyphen; other punctuation is removed
    ("Q&A" → "qa", "c++" → "c"); the empty string means the text held no tag.
    """
    tag = unicodedata.normalize("NFKC", text).lower().strip()
    tag = _SEPARATORS.sub("-", tag)
    tag = _NOT_TAG_CHARS.sub("", tag)
    tag = _DASH_RUNS.sub("-", tag).strip("-")
    return tag[:MAX_TAG_CHARS].rstrip("-")


def normalise_tags(values: list[str]) -> list[str]:
    """Each tag normalised, empty ones dropped, repeats removed, first occurrence first."""
    tags: list[str] = []
    for value in values:
        tag = normalise_tag(value)
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class SampleTags(BaseModel):
    """The skills and intents of one sample, most specific first, normalised."""

    tags: list[TagText] = Field(max_length=MAX_TAGS, description="short skill or intent labels, e.g. sql-debugging")

    @field_validator("tags", mode="before")
    @classmethod
    def _normalise(cls, values: Any) -> Any:
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            return normalise_tags(values)
        return values


async def tag_sample(ctx: AgentContext, sample: Sample, *, max_tags: int = 5) -> LLMResult[SampleTags]:
    """Up to `max_tags` normalised skill/intent tags for the sample."""
    if not 1 <= max_tags <= MAX_TAGS:
        raise ValueError(f"max_tags must be between 1 and {MAX_TAGS}, not {max_tags}")
    result = await ask(
        ctx, agent="decomposer", prompt="decompose_tags", output_type=SampleTags, sample_ids=[sample.id],
        instruction=sample.instruction, response=sample.response, max_tags=max_tags,
    )
    if result.value is None or len(result.value.tags) <= max_tags:
        return result
    return dataclasses.replace(result, value=SampleTags(tags=result.value.tags[:max_tags]))
