"""The judge, pairwise: which of two responses to one instruction is better.

Models favour whichever response they read first (or second), so every pair is judged in
both orders: the verdicts agree → that response wins; they disagree → a tie. A failed
call is a failure (`ok` False, with the error), never a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.core.concurrency import gather_or_stop
from assay.llm.gateway import LLMResult

Winner = Literal["a", "b", "tie"]
SWAPPED: dict[str, Winner] = {"a": "b", "b": "a", "tie": "tie"}
REASON_HINT_CHARS = 400  # schema-only hint, as in the pointwise verdict


class PairwiseVerdict(BaseModel):
    """One order's answer: a short comparison, then the better response (as labelled in that order)."""

    rationale: str = Field(description="a short comparison", json_schema_extra={"maxLength": REASON_HINT_CHARS})
    winner: Winner = Field(description="a, b or tie")

    @field_validator("winner", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        # "A", "Response B" and " tie " mean a, b and tie; anything else still fails.
        if isinstance(value, str):
            value = value.strip().lower().removeprefix("response").strip()
        return value


@dataclass(frozen=True)
class PairwiseResult:
    """Both orders' verdicts and the combined winner (None when a call failed)."""

    winner: Winner | None
    first_order: PairwiseVerdict | None  # A shown first
    second_order: PairwiseVerdict | None  # B shown first; its labels are as the model saw them
    call_ids: tuple[int, ...] = ()
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether both orders were judged."""
        return self.error is None and self.winner is not None

    @property
    def second_order_winner(self) -> Winner | None:
        """The second order's winner in the original labels (a = the response given as A)."""
        return SWAPPED[self.second_order.winner] if self.second_order is not None else None


def combine(first: Winner, second_mapped: Winner) -> Winner:
    """Agreeing orders give their winner; disagreeing ones a tie."""
    return first if first == second_mapped else "tie"


async def judge_pair(ctx: AgentContext, instruction: str, response_a: str, response_b: str, *,
                     sample_ids: Sequence[str] = (), rubric: Sequence[Any] = ()) -> PairwiseResult:
    """Compare two responses to `instruction`, in both orders, concurrently.

    `rubric` (criteria with a name and a description) is added to the judge's instructions when
    given: `assay rubric refine` compares a rewrite under a proposed rubric, and the run's repair
    checks pass the recipe's rubric when it set one of its own (pipeline/rubric/in_force.py).
    Without it the prompt is the plain pairwise one.
    """
    # Structured: a failure of one order cancels the other rather than leaving it to run and pay.
    first, second = await gather_or_stop([
        _ask(ctx, instruction, response_a, response_b, sample_ids, rubric),
        _ask(ctx, instruction, response_b, response_a, sample_ids, rubric),
    ])
    spent: dict[str, Any] = {
        "call_ids": first.call_ids + second.call_ids,
        "prompt_tokens": first.prompt_tokens + second.prompt_tokens,
        "completion_tokens": first.completion_tokens + second.completion_tokens,
        "cost_usd": first.cost_usd + second.cost_usd,
    }
    if first.value is None or second.value is None:
        errors = [f"{name} order: {r.error}" for name, r in (("first", first), ("second", second)) if r.value is None]
        return PairwiseResult(None, first.value, second.value, error="; ".join(errors), **spent)
    return PairwiseResult(combine(first.value.winner, SWAPPED[second.value.winner]), first.value, second.value, **spent)


async def _ask(ctx: AgentContext, instruction: str, shown_a: str, shown_b: str,
               sample_ids: Sequence[str], rubric: Sequence[Any]) -> LLMResult[PairwiseVerdict]:
    return await ask(ctx, agent="judge", prompt="judge_pairwise", output_type=PairwiseVerdict, sample_ids=sample_ids,
                     instruction=instruction, response_a=shown_a, response_b=shown_b, rubric=tuple(rubric))
