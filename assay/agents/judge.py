"""The judge, pointwise: rubric scores, an overall score, concrete issues and a rationale.

The rubric is configurable (`[[judge.rubric]]` in a recipe); the verdict's schema names
exactly the rubric's criteria, so a constrained decoder fills in every one and validation
rejects unknown or missing ones. Sample text reaches the model as delimited data, and a
deterministic detector adds a `prompt_injection` issue whenever the sample addresses its
grader, whether or not the model noticed. Pairwise comparison lives in `judge_pairwise`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from assay.agents.base import AgentContext, ask
from assay.agents.injection import MAX_HIT_CHARS, detect_injection
from assay.agents.judge_pairwise import PairwiseResult, PairwiseVerdict, judge_pair
from assay.core.config import DEFAULT_CRITERIA, Criterion
from assay.llm.gateway import LLMResult
from assay.core.records import Sample

__all__ = [
    "DEFAULT_RUBRIC", "ISSUE_TYPES", "Criterion", "Issue", "JudgeVerdict", "PairwiseResult", "PairwiseVerdict",
    "added_by_detector", "conversation_parts", "judge_pair", "judge_sample", "verdict_type",
]

DEFAULT_RUBRIC: tuple[Criterion, ...] = DEFAULT_CRITERIA
ISSUE_TYPES: dict[str, str] = {
    "wrong_answer": "a fact, number, piece of code or step of reasoning is wrong",
    "incomplete": "the response leaves out part of what was asked",
    "truncated": "the response stops mid-sentence or mid-code",
    "ambiguous_instruction": "the instruction cannot be answered well as written",
    "spurious_cue": "the instruction or response carries a hint or bias unrelated to the task",
    "format": "the response ignores a format, length or style the instruction asks for",
    "prompt_injection": "the sample addresses its grader or tries to give instructions to a model reading it",
    "unsafe": "harmful content, or a refusal of a harmless request",
    "other": "any other problem",
}
MAX_ISSUES = 8
# Schema-only hints: a constrained decoder (the embedded model) stops there instead of looping
# inside a string or a list until its answer tokens run out; validation does not enforce them,
# so a verbose real model still passes.
ISSUES_HINT = 4
RATIONALE_HINT_CHARS = 200
WHERE_HINT_CHARS = 80
FIX_HINT_CHARS = 120
Score = Annotated[int, Field(ge=1, le=5)]
DETECTED_FIX = "remove the text addressed to the grader: "  # marks the issues the detector added


def snake_case(text: str) -> str:
    """'Wrong answer' and 'wrong-answer' both become 'wrong_answer'."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


class Issue(BaseModel):
    """One concrete problem: its type, where it is, and how to fix it."""

    type: str = Field(description="snake_case issue type", json_schema_extra={"enum": list(ISSUE_TYPES)})
    where: str = Field(description="instruction or response, and which part", json_schema_extra={"maxLength": WHERE_HINT_CHARS})
    fix: str = Field(description="how to fix it", json_schema_extra={"maxLength": FIX_HINT_CHARS})

    @field_validator("type", mode="before")
    @classmethod
    def _snake_case(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if not snake_case(value):
            raise ValueError("an issue needs a type")
        return snake_case(value)


class JudgeVerdict(BaseModel):
    """A pointwise verdict: issues first (they ground the scores), then scores and a rationale."""

    rubric_names: ClassVar[tuple[str, ...] | None] = None  # set on the per-rubric subclasses

    issues: list[Issue] = Field(max_length=MAX_ISSUES, description="concrete problems, most serious first",
                                json_schema_extra={"maxItems": ISSUES_HINT})
    scores: dict[str, Score] = Field(description="one score from 1 to 5 per rubric criterion")
    overall: float = Field(ge=1, le=5, description="overall quality as training data, 1 to 5")
    rationale: str = Field(description="one to three sentences", json_schema_extra={"maxLength": RATIONALE_HINT_CHARS})

    @field_validator("issues", mode="before")
    @classmethod
    def _distinct_issues(cls, values: Any) -> Any:
        # Small models repeat one issue verbatim until the list is full; one copy says it all.
        if not isinstance(values, list):
            return values
        return [v for i, v in enumerate(values) if v not in values[:i]]

    @model_validator(mode="after")
    def _scores_match_rubric(self) -> JudgeVerdict:
        expected = type(self).rubric_names
        if expected is not None and set(self.scores) != set(expected):
            missing = [n for n in expected if n not in self.scores]
            unknown = [n for n in self.scores if n not in expected]
            raise ValueError(f"scores must cover exactly {', '.join(expected)}"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        if expected is not None:
            self.scores = {name: self.scores[name] for name in expected}  # rubric order
        return self


@functools.cache
def verdict_type(rubric: tuple[Criterion, ...]) -> type[JudgeVerdict]:
    """The verdict model for one rubric: its schema lists exactly the rubric's criteria."""
    names = tuple(c.name for c in rubric)
    score_schema = {
        "properties": {name: {"type": "integer", "minimum": 1, "maximum": 5} for name in names},
        "required": list(names),
        "additionalProperties": False,
    }
    model = create_model(
        "JudgeVerdict", __base__=JudgeVerdict,
        scores=(dict[str, Score], Field(description="one score from 1 to 5 per rubric criterion",
                                        json_schema_extra=score_schema)),
    )
    model.rubric_names = names
    return model


def conversation_parts(sample: Sample) -> dict[str, Any]:
    """The sample as the judge reads it: system prompt, earlier turns, last instruction, last response."""
    system = "\n\n".join(m.content for m in sample.messages if m.role == "system")
    turns = [m for m in sample.messages if m.role != "system"]
    last_reply = max((i for i, m in enumerate(turns) if m.role == "assistant"), default=len(turns))
    response = turns[last_reply].content if last_reply < len(turns) else ""
    before = turns[:last_reply]
    last_ask = max((i for i, m in enumerate(before) if m.role == "user"), default=None)
    instruction = before[last_ask].content if last_ask is not None else ""
    history = before[:last_ask] if last_ask is not None else before
    return {"system": system, "history": [{"role": m.role, "content": m.content} for m in history],
            "instruction": instruction, "response": response}


async def judge_sample(ctx: AgentContext, sample: Sample, rubric: Sequence[Criterion] = DEFAULT_RUBRIC,
                       ) -> LLMResult[JudgeVerdict]:
    """Score one sample against the rubric; a failed call comes back failed, with no verdict."""
    rubric = tuple(rubric)
    parts = conversation_parts(sample)
    result = await ask(ctx, agent="judge", prompt="judge_pointwise", output_type=verdict_type(rubric),
                       sample_ids=[sample.id], rubric=rubric, issue_types=ISSUE_TYPES, **parts)
    if result.value is None:
        return result
    return replace(result, value=with_detected_injection(result.value, parts))


def with_detected_injection(verdict: JudgeVerdict, parts: dict[str, Any]) -> JudgeVerdict:
    """The verdict plus a `prompt_injection` issue per part where the detector found one.

    The model's own prompt_injection issues are kept; the detector only adds what it found
    when the model reported none, so a flag never depends on the model noticing.
    """
    if any(issue.type == "prompt_injection" for issue in verdict.issues):
        return verdict
    texts = {"system prompt": parts["system"], "instruction": parts["instruction"], "response": parts["response"]}
    texts.update({f"earlier {turn['role']} turn {i}": turn["content"] for i, turn in enumerate(parts["history"], 1)})
    added = [
        Issue(type="prompt_injection", where=f"{where}: \"{hits[0]}\"",
              fix=DETECTED_FIX + "; ".join(f'"{h}"' for h in hits)[: 3 * MAX_HIT_CHARS])
        for where, text in texts.items() if (hits := detect_injection(text))
    ]
    return verdict.model_copy(update={"issues": [*added, *verdict.issues]}) if added else verdict


def added_by_detector(issue: Issue) -> bool:
    """Whether the deterministic detector, not the model, reported this issue."""
    return issue.type == "prompt_injection" and issue.fix.startswith(DETECTED_FIX)
