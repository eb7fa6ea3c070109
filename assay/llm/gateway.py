"""The LLM gateway: every model call in assay goes through `Gateway.complete`.

It asks for structured output (a pydantic model) and validates it, repairing once with
the validation error; retries transient failures with backoff, honouring Retry-After;
bounds concurrency; answers repeated requests from the session's cache; charges the
budget and stops cleanly when it is spent; and traces every attempt, keys stripped.
A failure comes back as a failed `LLMResult` with the raw text, never as data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from assay.llm.budget import BudgetLedger, Reservation
from assay.llm.cache import ResponseCache, cache_key
from assay.llm.pricing import DEFAULT_COMPLETION_TOKENS, Price, estimate_prompt_tokens, known_price, unpriced
from assay.llm.structured import (  # noqa: F401 (parse_structured and SCHEMA_INSTRUCTION are this module's API too)
    REPAIR_INSTRUCTION,
    SCHEMA_INSTRUCTION,
    parse_structured,
    schema_of,
    with_schema_instruction,
)
from assay.llm.transport import Completion, CompletionRequest, FatalError, TransientError, Transport
from assay.trace.log import CallRecord, Trace

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class GatewaySettings:
    """How the gateway calls models."""

    concurrency: int = 8
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    timeout_s: float = 120.0
    repair_rounds: int = 1
    price: Price | None = None  # the user's price, for every model; else the transport's, if it knows one


@dataclass(frozen=True)
class LLMResult(Generic[T]):
    """The outcome of one structured request: a validated value, or an error with the raw text."""

    value: T | None
    raw: str | None
    error: str | None
    call_ids: tuple[int, ...]
    cached: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether a valid value came back."""
        return self.value is not None


class Gateway:
    """The single path to a model; one per session."""

    def __init__(
        self,
        *,
        transport: Transport,
        trace: Trace,
        cache: ResponseCache | None,
        budget: BudgetLedger,
        settings: GatewaySettings = GatewaySettings(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.transport = transport
        self.trace = trace
        self.cache = cache
        self.budget = budget
        self.settings = settings
        self.sleep = sleep
        self.rng = rng or random.Random(0)
        self.monotonic = monotonic
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._completion_tokens = (0, 0)  # (total, calls) of answers so far: sizes the next estimate
        self._prices: dict[str, Price | None] = {}
        self._waiters: list[asyncio.Future[None]] = []  # calls waiting for a call in flight to end
        self._pending: dict[str, asyncio.Future[None]] = {}  # cache keys of requests in flight

    async def complete(
        self,
        *,
        agent: str,
        model: str,
        messages: Sequence[dict[str, Any]],
        output_type: type[T],
        prompt_version: str,
        sample_ids: Sequence[str] = (),
        params: dict[str, Any] | None = None,
        round: int | None = None,
    ) -> LLMResult[T]:
        """Ask `model` for an instance of `output_type`.

        Raises BudgetExhausted when a limit is reached, and ConfigError when a USD budget is set
        and `model` has no price (it would be charged $0, so the cap would do nothing).
        """
        schema, instruction = schema_of(output_type)
        self.trace.redactor.add((params or {}).get("api_key"))
        self.trace.redactor.add(getattr(self.transport, "api_key", None))
        if self.budget.max_usd is not None and self._price_for(model) is None:
            raise unpriced(model)
        conversation = with_schema_instruction(list(messages), instruction)
        context = _CallContext(agent, model, prompt_version, list(sample_ids), dict(params or {}), round, schema, output_type.__name__)
        call_ids: list[int] = []
        totals = [0, 0, 0.0]
        all_cached = True
        raw: str | None = None
        error: str | None = None
        for repair_round in range(self.settings.repair_rounds + 1):
            completion, cached, attempt_ids, error = await self._call(context, conversation)
            call_ids += attempt_ids
            if completion is None:
                return LLMResult(None, raw, self.trace.redactor.text(error), tuple(call_ids), False, *totals)
            all_cached &= cached
            totals[0] += completion.prompt_tokens
            totals[1] += completion.completion_tokens
            totals[2] += completion.cost_usd
            raw = completion.text
            value, error = parse_structured(raw, output_type)
            if value is not None:
                return LLMResult(value, raw, None, tuple(call_ids), all_cached, *totals)
            self.trace.mark_invalid(attempt_ids[-1], error)
            conversation = [
                *conversation,
                {"role": "assistant", "content": raw},
                {"role": "user", "content": REPAIR_INSTRUCTION.format(error=error)},
            ]
        return LLMResult(None, raw, self.trace.redactor.text(error), tuple(call_ids), all_cached, *totals)

    async def _call(self, ctx: _CallContext, messages: list[dict[str, Any]]) -> tuple[Completion | None, bool, list[int], str | None]:
        """One request with cache and retries: (completion, from_cache, traced call ids, error)."""
        key = cache_key(ctx.model, messages, ctx.params, ctx.schema, ctx.prompt_version)
        if self.cache is None:
            return await self._send(ctx, messages, key)
        # An identical request in flight will cache its answer: wait for it rather than pay twice.
        while (pending := self._pending.get(key)) is not None:
            await asyncio.wait({pending})
        hit = self.cache.get(key)
        if hit is not None:
            call_id = self.trace.llm_call(ctx.record(messages, "cached", 1, 0.0, hit, cache_key=key))
            return hit, True, [call_id], None
        self._pending[key] = asyncio.get_running_loop().create_future()
        try:
            return await self._send(ctx, messages, key)
        finally:
            self._pending.pop(key).set_result(None)

    async def _send(self, ctx: _CallContext, messages: list[dict[str, Any]], key: str,
                    ) -> tuple[Completion | None, bool, list[int], str | None]:
        """One request with retries, paid for: (completion, False, traced call ids, error)."""
        params = ctx.params
        request = CompletionRequest(ctx.model, messages, ctx.schema, ctx.schema_name, params, self.settings.timeout_s)
        call_ids: list[int] = []
        attempt = 0

        async def attempt_once() -> Completion:
            nonlocal attempt
            attempt += 1
            # The claim is made inside the slot, just before the send: a claim made while waiting
            # for a slot would see none of the calls ahead of it, and the cap would not hold.
            async with self._slots:
                reservation = await self._admit(*self._estimate(ctx.model, messages, params))
                # Recorded before it is sent, with its estimate: a kill during the call leaves a row
                # that a resumed budget counts.
                call_id = self.trace.llm_call(ctx.record(messages, "in_flight", attempt, 0.0, None,
                                                         estimate=reservation, cache_key=key))
                call_ids.append(call_id)
                started = self.monotonic()
                try:
                    completion = await self.transport(request)
                except (TransientError, FatalError) as err:
                    self._end(call_id, reservation, ctx.record(messages, "error", attempt, self._since(started), None,
                                                               error=str(err)))
                    raise
                except BaseException as err:  # cancelled by a failed sibling, or a bug: it may have been paid
                    outcome = "cancelled" if isinstance(err, asyncio.CancelledError) else "aborted"
                    self._end(call_id, reservation, ctx.record(messages, outcome, attempt, self._since(started), None,
                                                               estimate=reservation, error=repr(err)))
                    raise
                completion = self._priced(completion)
                if self.cache is not None:  # cached before the row says "ok": a kill between the two never pays twice
                    self.cache.put(key, ctx.model, completion)
                self._end(call_id, reservation, ctx.record(messages, "ok", attempt, self._since(started), completion,
                                                           cache_key=key))
                return completion

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            completion = await retrying(attempt_once)
        except (TransientError, FatalError) as err:
            return None, False, call_ids, f"{err} (after {attempt} attempt{'s' if attempt > 1 else ''})"
        return completion, False, call_ids, None

    def _estimate(self, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> tuple[int, float]:
        """Tokens and dollars a call is assumed to cost while in flight (its reservation)."""
        total, count = self._completion_tokens
        completion = params.get("max_tokens") or (total // count if count else DEFAULT_COMPLETION_TOKENS)
        prompt = estimate_prompt_tokens(messages)
        price = self._price_for(model)
        return prompt + completion, price.cost(prompt, completion) if price is not None else 0.0

    def _price_for(self, model: str) -> Price | None:
        """The user's price, else the one the transport knows for `model` (looked up once)."""
        if model not in self._prices:
            self._prices[model] = self.settings.price or known_price(self.transport, model)
        return self._prices[model]

    def _priced(self, completion: Completion) -> Completion:
        """The answer with secrets removed and its cost at the user's price, when one is given."""
        total, count = self._completion_tokens
        self._completion_tokens = (total + completion.completion_tokens, count + 1)
        cost = self.settings.price.cost(completion.prompt_tokens, completion.completion_tokens) \
            if self.settings.price is not None else completion.cost_usd
        # Redacted before anyone sees it: a live answer and its cached replay are the same text.
        return dataclasses.replace(completion, text=self.trace.redactor.text(completion.text) or "", cost_usd=cost)

    async def _admit(self, tokens: int, usd: float) -> Reservation:
        """Claim the budget for a call, waiting while calls in flight may take what is left."""
        while (reservation := self.budget.admit(tokens, usd)) is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter  # set when a call in flight ends
        return reservation

    def _end(self, call_id: int, reservation: Reservation, record: CallRecord) -> None:
        self.budget.settle(reservation, record.prompt_tokens + record.completion_tokens, record.cost_usd)
        try:
            self.trace.call_ended(call_id, record)
        finally:  # calls waiting on the budget re-check it, whatever happened to the trace
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _since(self, started: float) -> float:
        return (self.monotonic() - started) * 1000

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gave one, else capped exponential backoff with jitter."""
        err = state.outcome.exception() if state.outcome else None
        if isinstance(err, TransientError) and err.retry_after is not None:
            return min(err.retry_after, self.settings.backoff_max_s)
        backoff = self.settings.backoff_base_s * 2 ** (state.attempt_number - 1)
        return min(self.settings.backoff_max_s, backoff) * (0.5 + self.rng.random() / 2)


@dataclass(frozen=True)
class _CallContext:
    agent: str
    model: str
    prompt_version: str
    sample_ids: list[str]
    params: dict[str, Any]
    round: int | None
    schema: dict[str, Any]
    schema_name: str

    def record(self, messages: list[dict[str, Any]], outcome: str, attempt: int, latency_ms: float,
               completion: Completion | None, *, error: str | None = None, cache_key: str | None = None,
               estimate: Reservation | None = None) -> CallRecord:
        spent = completion if completion is not None and outcome != "cached" else Completion("")
        if estimate is not None:  # a call that has not ended (or never will): its tokens, as estimated, go in prompt_tokens
            spent = Completion("", prompt_tokens=estimate.tokens, cost_usd=estimate.usd)
        return CallRecord(
            agent=self.agent, model=self.model, prompt_version=self.prompt_version, messages=messages,
            params=self.params, outcome=outcome, attempt=attempt, latency_ms=latency_ms,
            response=completion.text if completion is not None else None, error=error,
            prompt_tokens=spent.prompt_tokens, completion_tokens=spent.completion_tokens, cost_usd=spent.cost_usd,
            cache_key=cache_key, sample_ids=self.sample_ids, round=self.round,
        )
