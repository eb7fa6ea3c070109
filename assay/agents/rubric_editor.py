"""The rubric editor: shown the judge's rubric and the review decisions it got wrong, it proposes an edited rubric.

The survey's guideline refinement: where people disagree with the judge (or the judge could
not decide), a criterion is wrong, missing or vague. The agent sees the current criteria,
the disagreements (instruction, a response excerpt, the person's decision and note, the
judge's decision and scores) and the pairwise ties, and answers with the whole edited rubric
(criteria added, removed, renamed or reworded) and a short rationale. Whether the edit is
any good is measured by the service (assay/pipeline/rubric/refine.py), never taken on trust.
Its model is the recipe's `[models] rubric_editor` (AGENT is also its role), else the judge's: a
stronger model can write the rubric that a cheaper judge then applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.agents.judge import snake_case
from assay.core.config import Criterion
from assay.llm.gateway import LLMResult

AGENT = "rubric_editor"
MAX_CRITERIA = 12  # what `[judge] rubric` accepts (core/config.py)
EXCERPT_CHARS = 600  # of each instruction and response shown: enough to see length, padding, tone
DESCRIPTION_HINT_CHARS = 240  # schema-only hints for a constrained decoder, as in the judge
RATIONALE_HINT_CHARS = 400


class ProposedCriterion(BaseModel):
    """One criterion of the proposed rubric."""

    name: str = Field(description="snake_case name")
    description: Annotated[str, Field(description="one sentence a grader can apply",
                                      json_schema_extra={"maxLength": DESCRIPTION_HINT_CHARS})]

    @field_validator("name", mode="before")
    @classmethod
    def _snake(cls, value: Any) -> Any:
        # "Conciseness" and "no-padding" are fine names once snake_cased; an empty one still fails.
        if isinstance(value, str):
            value = snake_case(value)
            if not value or not value[0].isalpha():
                raise ValueError("a criterion needs a snake_case name starting with a letter")
        return value

    @field_validator("description", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = " ".join(value.split())
            if not value:
                raise ValueError("a criterion needs a description")
        return value


class RubricEdit(BaseModel):
    """The editor's answer: the whole edited rubric, then why."""

    criteria: list[ProposedCriterion] = Field(min_length=1, max_length=MAX_CRITERIA,
                                              description="the whole edited rubric, in order")
    rationale: str = Field(description="what was changed and why, in one to three sentences",
                           json_schema_extra={"maxLength": RATIONALE_HINT_CHARS})

    @field_validator("criteria", mode="before")
    @classmethod
    def _drop_copies(cls, values: Any) -> Any:
        # Small models repeat one criterion verbatim until the list is full; one copy says it all.
        # Two criteria of one name but different descriptions still fail below.
        if not isinstance(values, list):
            return values
        return [v for i, v in enumerate(values) if v not in values[:i]]

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, criteria: list[ProposedCriterion]) -> list[ProposedCriterion]:
        names = [c.name for c in criteria]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"criterion names repeat: {', '.join(repeated)}")
        return criteria

    @field_validator("rationale")
    @classmethod
    def _stripped(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rationale must not be empty")
        return value.strip()

    def rubric(self) -> tuple[Criterion, ...]:
        """The proposal as the judge's rubric."""
        return tuple(Criterion(c.name, c.description) for c in self.criteria)


@dataclass(frozen=True)
class EditCase:
    """One review item the editor learns from: what was judged, what the person and the judge decided."""

    kind: str  # expand (a new sample, judged pointwise) | repair (a rewrite, judged pairwise)
    human: str  # approve | reject; "undecided" for a pairwise tie with no review
    judge: str  # approve | reject | tie
    judge_detail: str  # the judge's scores, or its pairwise verdict
    instruction: str
    response: str  # the proposed response (the rewrite, for a repair)
    original: str | None = None  # the response a repair would replace
    note: str | None = None  # the person's note


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The text cut to `limit` characters, saying how long it really was when cut."""
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit].rstrip()} … [{len(text)} characters in all]"


async def propose_rubric(ctx: AgentContext, rubric: Sequence[Criterion], disagreements: Sequence[EditCase],
                         ties: Sequence[EditCase], *, keep_rule: str) -> LLMResult[RubricEdit]:
    """Ask for an edited rubric; `keep_rule` says in words how the judge's scores become a decision."""
    def shown(case: EditCase) -> dict[str, Any]:
        return {"kind": case.kind, "human": case.human, "judge": case.judge, "judge_detail": case.judge_detail,
                "note": case.note, "instruction": excerpt(case.instruction), "response": excerpt(case.response),
                "original": excerpt(case.original) if case.original is not None else None}

    return await ask(ctx, agent=AGENT, prompt="rubric_edit", output_type=RubricEdit, rubric=tuple(rubric),
                     disagreements=[shown(c) for c in disagreements], ties=[shown(c) for c in ties],
                     keep_rule=keep_rule, max_criteria=MAX_CRITERIA)
