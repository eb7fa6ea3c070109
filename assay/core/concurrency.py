"""Many LLM-bound tasks at once, with structured concurrency, stopping cleanly when the budget is spent.

No task outlives the call that started it: the first failure cancels its siblings (which would
otherwise keep calling, and paying, for a result nobody reads) and is raised as itself. A spent
budget is not such a failure: calls already in flight are paid for, so they are let finish,
and the next send of each sibling stops at the budget check anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from assay.core.errors import BudgetExhausted

T = TypeVar("T")


async def gather_cancelling(aws: Iterable[Awaitable[Any]], *,
                            settle: tuple[type[BaseException], ...] = ()) -> list[Any]:
    """Await all concurrently, results in order; the first failure cancels the rest and is raised.

    Exceptions of the `settle` types are returned in place of a result instead, leaving the
    siblings running.
    """

    async def settled(aw: Awaitable[Any]) -> Any:
        try:
            return await aw
        except settle as err:
            return err

    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(settled(aw) if settle else aw) for aw in aws]
    except BaseExceptionGroup as group_error:
        raise _first_leaf(group_error) from None
    return [task.result() for task in tasks]


async def gather_or_stop(aws: Iterable[Awaitable[Any]]) -> list[Any]:
    """Like `gather_cancelling`, but a spent budget lets the calls in flight finish, then is raised."""
    done = await gather_cancelling(aws, settle=(BudgetExhausted,))
    stopped = next((r for r in done if isinstance(r, BudgetExhausted)), None)
    if stopped is not None:
        raise stopped
    return done


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first failure of a group (the rest are siblings' reactions, or later failures)."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def run_chunked(items: Sequence[T], work: Callable[[T], Awaitable[Any]], chunk: int,
                      advance: Callable[[], None]) -> tuple[list[Any], str | None]:
    """Run `work` on every item, `chunk` at a time; stops after the chunk in which the budget ran out.

    Returns one result per item (None for items not reached) and the budget message, if any.
    Any other failure cancels the chunk's other items and is raised.
    """
    results: list[Any] = [None] * len(items)

    async def one(item: T) -> Any:
        try:
            return await work(item)
        finally:
            advance()

    for start in range(0, len(items), chunk):
        done = await gather_cancelling((one(i) for i in items[start : start + chunk]), settle=(BudgetExhausted,))
        for offset, outcome in enumerate(done):
            results[start + offset] = None if isinstance(outcome, BudgetExhausted) else outcome
        stopped = next((str(r) for r in done if isinstance(r, BudgetExhausted)), None)
        if stopped:
            return results, stopped
    return results, None
