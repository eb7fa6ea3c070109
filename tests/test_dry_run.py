"""The dry-run model: instant, deterministic, schema-valid."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from assay.dry_run import DryRunTransport
from assay.llm import parse_structured
from assay.llm_transport import CompletionRequest


class Issue(BaseModel):
    kind: Literal["wrong_answer", "truncated", "format"]
    where: str = Field(min_length=3)
    fix: str | None = None


class Criterion(BaseModel):
    name: str
    score: int = Field(ge=1, le=5)


class Verdict(BaseModel):
    criteria: list[Criterion] = Field(min_length=2)
    overall: float = Field(ge=1, le=5)
    issues: list[Issue]
    injected: bool
    tags: dict[str, str] = Field(default_factory=dict)
    confidence: float = Field(gt=0, lt=1)


@pytest.mark.parametrize("content", ["a", "b", "c", "d", "e"])
async def test_answers_are_schema_valid(content: str) -> None:
    request = CompletionRequest("dry-run", [{"role": "user", "content": content}], Verdict.model_json_schema(), "Verdict")
    completion = await DryRunTransport()(request)
    value, error = parse_structured(completion.text, Verdict)
    assert error is None and value is not None and len(value.criteria) >= 2


async def test_same_request_same_answer() -> None:
    request = CompletionRequest("dry-run", [{"role": "user", "content": "x"}], Verdict.model_json_schema(), "Verdict")
    assert (await DryRunTransport()(request)).text == (await DryRunTransport()(request)).text
