"""The rewriter: repair a sample from the judge's issues, and keep the repair only if it is better.

A repair is a new sample whose parent is the original (`op="rewrite"`); samples are never
mutated. The pairwise judge compares the two responses in both orders, and the repair is
accepted only when both orders prefer it; otherwise the original stands. Every attempt
(accepted, rejected, failed) is a decision in the trace on the original sample's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from assay.agents.base import AgentContext, ask
from assay.agents.text_fields import NonBlankStr
from assay.agents.judge import Issue, PairwiseResult, conversation_parts, judge_pair
from assay.llm.gateway import LLMResult
from assay.core.records import Message, Origin, Sample

MAX_CHANGES = 8
CHANGE_HINT_CHARS = 200  # schema-only hint for a constrained decoder, as in the judge
AGENT = "rewriter"
# The pairwise winner (b = the rewrite) → the outcome's reason, the trace action, an explanation.
BY_WINNER = {
    "b": ("accepted", "rewrite_accepted", "the judge preferred rewrite {id} in both orders"),
    "a": ("original_preferred", "rewrite_rejected", "the judge preferred the original over rewrite {id}"),
    "tie": ("tie", "rewrite_rejected", "the judge did not prefer rewrite {id} in both orders"),
}
ChangeText = Annotated[str, Field(json_schema_extra={"maxLength": CHANGE_HINT_CHARS})]


class Rewrite(BaseModel):
    """The repaired instruction (None: unchanged), the repaired response, and what changed."""

    instruction: str | None = Field(None, description="the whole repaired instruction, or null to keep it unchanged")
    response: NonBlankStr = Field(description="the whole repaired response")
    changes: list[ChangeText] = Field(default_factory=list, max_length=MAX_CHANGES,
                                      description="each change made, one short line each")

    @field_validator("instruction", mode="before")
    @classmethod
    def _blank_is_unchanged(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("changes", mode="before")
    @classmethod
    def _clean(cls, values: Any) -> Any:
        if isinstance(values, list):
            return [v.strip() for v in values if not (isinstance(v, str) and not v.strip())]
        return values


@dataclass(frozen=True)
class RepairOutcome:
    """What became of one repair attempt; `kept` is the sample that stands afterwards."""

    original: Sample
    rewritten: Sample | None  # the attempt (also when rejected); None when it failed or changed nothing
    accepted: bool
    reason: str  # accepted | no_change | tie | original_preferred | rewrite_failed | judge_failed
    pairwise: PairwiseResult | None = None
    error: str | None = None
    rewrite: Rewrite | None = None
    call_ids: tuple[int, ...] = ()

    @property
    def kept(self) -> Sample:
        """The rewrite when accepted, else the original."""
        return self.rewritten if self.accepted and self.rewritten is not None else self.original


async def rewrite_sample(ctx: AgentContext, sample: Sample, issues: Sequence[Issue]) -> LLMResult[Rewrite]:
    """Ask for a repair of the sample's last instruction and response that fixes `issues`."""
    return await ask(ctx, agent=AGENT, prompt="rewrite", output_type=Rewrite, sample_ids=[sample.id],
                     issues=list(issues), **conversation_parts(sample))


def apply_rewrite(sample: Sample, rewrite: Rewrite) -> Sample:
    """The repaired sample: the original's turns with the last instruction and response replaced.

    Text equal to the original but for surrounding whitespace keeps the original's exact text,
    so a rewrite that changes nothing has the original's id.
    """
    messages = list(sample.messages)
    reply = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=None)
    if reply is None:
        messages.append(Message(role="assistant", content=rewrite.response))
        reply = len(messages) - 1
    elif messages[reply].content.strip() != rewrite.response:
        messages[reply] = Message(role="assistant", content=rewrite.response)
    ask_at = max((i for i, m in enumerate(messages[:reply]) if m.role == "user"), default=None)
    if rewrite.instruction is not None:
        if ask_at is None:
            messages.insert(reply, Message(role="user", content=rewrite.instruction))
        elif messages[ask_at].content.strip() != rewrite.instruction:
            messages[ask_at] = Message(role="user", content=rewrite.instruction)
    fmt = sample.origin.format if sample.origin else "alpaca"
    return Sample.create(messages, source=sample.source, parent_ids=(sample.id,), op="rewrite",
                         origin=Origin(format=fmt))


async def repair(rewriter_ctx: AgentContext, judge_ctx: AgentContext, sample: Sample, issues: Sequence[Issue], *,
                 round: int | None = None, rubric: Sequence[Any] = ()) -> RepairOutcome:
    """Rewrite the sample, judge the rewrite against it in both orders, and trace the decision.

    `rubric` (criteria) is shown to the pairwise judge when given: the recipe's own rubric; none keeps
    the plain pairwise prompt."""
    round = rewriter_ctx.round if round is None else round
    trace = rewriter_ctx.gateway.trace
    written = await rewrite_sample(rewriter_ctx, sample, issues)
    if written.value is None:
        error = f"rewrite failed: {written.error}"
        trace.decision(sample.id, AGENT, "rewrite_failed", reason=error, call_ids=written.call_ids, round=round)
        return RepairOutcome(sample, None, False, "rewrite_failed", error=error, call_ids=written.call_ids)
    rewritten = apply_rewrite(sample, written.value)
    if rewritten.messages == sample.messages:
        trace.decision(sample.id, AGENT, "rewrite_rejected", call_ids=written.call_ids, round=round,
                       reason="no_change: the rewrite is identical to the original")
        return RepairOutcome(sample, None, False, "no_change", rewrite=written.value, call_ids=written.call_ids)

    instruction = conversation_parts(sample)["instruction"]
    # The judge reads the ORIGINAL instruction, also when the rewrite clarified it: a repair must
    # still serve the user's request, and cannot win by swapping the task for an easier one.
    pairwise = await judge_pair(judge_ctx, instruction, sample.response, rewritten.response,
                                sample_ids=(sample.id, rewritten.id), rubric=rubric)
    call_ids = written.call_ids + pairwise.call_ids
    changes = "; ".join(written.value.changes) or "none listed"
    if not pairwise.ok:
        error = f"pairwise judge failed: {pairwise.error}"
        trace.decision(sample.id, AGENT, "rewrite_failed", reason=f"judge_failed: rewrite {rewritten.id}: {error}",
                       call_ids=call_ids, round=round)
        return RepairOutcome(sample, rewritten, False, "judge_failed", pairwise, error, written.value, call_ids)
    named = {"a": "original", "b": "rewrite", "tie": "tie"}
    orders = (f"original shown first: {named[pairwise.first_order.winner]}; "
              f"rewrite shown first: {named[pairwise.second_order_winner]}")
    reason, action, why = BY_WINNER[pairwise.winner]
    why = why.format(id=rewritten.id)
    trace.decision(sample.id, AGENT, action, reason=f"{reason}: {why} ({orders}); changes: {changes}",
                   call_ids=call_ids, round=round)
    return RepairOutcome(sample, rewritten, reason == "accepted", reason, pairwise, None, written.value, call_ids)
