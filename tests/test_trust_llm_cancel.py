"""Structured concurrency: the first failure cancels its sibling calls (issue 11, defect 9).

A failure here is a bug or an unexpected error out of the model boundary. Before the fix,
`asyncio.gather` left the siblings running, and paying, after it.
"""

from __future__ import annotations

import asyncio

import pytest

from assay.agents.base import AgentContext
from assay.core.concurrency import gather_cancelling, run_chunked
from assay.core.errors import BudgetExhausted
from assay.llm.transport import Completion, CompletionRequest
from assay.core.records import Message, Sample
from assay.session.session import Session
from assay.testing.scripted import scripted_gateway


class FirstFailsRestHang:
    """A model whose first request fails with a bug and whose other requests never answer."""

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []
        self.in_flight = 0
        self.cancelled = 0

    async def __call__(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        number = len(self.requests)
        self.in_flight += 1
        try:
            await asyncio.sleep(0.01 if number == 1 else 30)
            if number == 1:
                raise RuntimeError("boom: a bug at the model boundary")
            return Completion("{}")
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def context(session: Session, model: FirstFailsRestHang) -> AgentContext:
    return AgentContext(scripted_gateway(session, model, cache=False), "fake/model")


def sample(i: int) -> Sample:
    return Sample.create([Message(role="user", content=f"question {i}"), Message(role="assistant", content=f"answer {i}")])


async def settle_then_check(model: FirstFailsRestHang, siblings: int) -> None:
    await asyncio.sleep(0.05)  # an orphan would still be in flight here
    assert model.in_flight == 0 and model.cancelled == siblings


async def test_tagging_failure_cancels_sibling_calls(session: Session) -> None:
    from assay.pipeline.select.tagging import tag_samples

    model = FirstFailsRestHang()
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(tag_samples(context(session, model), [sample(i) for i in range(5)]), 5)
    await settle_then_check(model, 4)
    outcomes = [r[0] for r in session.conn.execute("SELECT outcome FROM llm_calls ORDER BY id")]
    # Each may have been paid, so each keeps its estimated cost; none is left in flight.
    assert sorted(outcomes) == ["aborted"] + ["cancelled"] * 4


async def test_pairwise_judge_failure_cancels_the_other_order(session: Session) -> None:
    from assay.agents.judge import judge_pair

    model = FirstFailsRestHang()
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(judge_pair(context(session, model), "Say hi", "hi", "hello"), 5)
    await settle_then_check(model, 1)


async def test_judge_chunks_stop_at_the_first_failure(session: Session) -> None:
    from assay.agents.judge import judge_sample
    from assay.core.config import DEFAULT_CRITERIA

    model = FirstFailsRestHang()
    ctx = context(session, model)
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(run_chunked([sample(i) for i in range(6)], lambda s: judge_sample(ctx, s, DEFAULT_CRITERIA),
                                           6, lambda: None), 5)
    await settle_then_check(model, 5)


async def test_a_spent_budget_does_not_cancel_calls_already_paid_for() -> None:
    finished: list[int] = []

    async def work(i: int) -> int:
        if i == 0:
            raise BudgetExhausted("LLM call budget spent (1 of 1 calls)")
        await asyncio.sleep(0.01)
        finished.append(i)
        return i

    results = await gather_cancelling([work(i) for i in range(4)], settle=(BudgetExhausted,))
    assert isinstance(results[0], BudgetExhausted) and results[1:] == [1, 2, 3] and sorted(finished) == [1, 2, 3]
    chunked, stopped = await run_chunked(list(range(4)), work, 4, lambda: None)
    assert chunked == [None, 1, 2, 3] and stopped == "LLM call budget spent (1 of 1 calls)"
