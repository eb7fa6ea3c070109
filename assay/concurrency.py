"""Many LLM-bound tasks at once, in chunks, stopping cleanly when the budget is spent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from assay.errors import BudgetExhausted

T = TypeVar("T")

async def run_chunked(items: Sequence[T], work: Callable[[T], Awaitable[Any]], chunk: int,
                      advance: Callable[[], None]) -> tuple[list[Any], str | None]:
    """Run `work` on every item, `chunk` at a time; stops at the first spent budget.

    Returns one result per item (None for items not reached) and the budget message, if any.
    """
    results: list[Any] = [None] * len(items)

    async def one(item: T) -> Any:
        try:
            return await work(item)
        finally:
            advance()

    for start in range(0, len(items), chunk):
        done = await asyncio.gather(*(one(i) for i in items[start : start + chunk]), return_exceptions=True)
        for offset, outcome in enumerate(done):
            if isinstance(outcome, BaseException) and not isinstance(outcome, BudgetExhausted):
                raise outcome
            results[start + offset] = None if isinstance(outcome, BaseException) else outcome
        stopped = next((str(r) for r in done if isinstance(r, BudgetExhausted)), None)
        if stopped:
            return results, stopped
    return results, None
