"""The dry-run model: instant, deterministic, schema-valid."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from assay.llm.dry_run import DryRunTransport
from assay.llm.gateway import parse_structured
from assay.llm.transport import CompletionRequest


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


async def test_placeholder_verdicts_never_invent_alarms() -> None:
    """Issue 11 #19: a quarter of clean samples got a made-up prompt_injection issue in a dry run."""
    from assay.agents.judge import DEFAULT_RUBRIC, verdict_type

    model = verdict_type(DEFAULT_RUBRIC)
    types: set[str] = set()
    for n in range(200):
        request = CompletionRequest("dry-run", [{"role": "user", "content": f"clean sample {n}"}],
                                    model.model_json_schema(), model.__name__)
        value, error = parse_structured((await DryRunTransport()(request)).text, model)
        assert error is None and value is not None
        types |= {issue.type for issue in value.issues}
    assert "prompt_injection" not in types and "unsafe" not in types
    assert {"wrong_answer", "incomplete"} <= types  # other placeholder issues still exercise repair
