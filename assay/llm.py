"""The LLM gateway: every model call in assay goes through `Gateway.complete`.

It asks for structured output (a pydantic model) and validates it, repairing once with
the validation error; retries transient failures with backoff, honouring Retry-After;
bounds concurrency; answers repeated requests from the session's cache; charges the
budget and stops cleanly when it is spent; and traces every attempt, keys stripped.
A failure comes back as a failed `LLMResult` with the raw text, never as data.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from assay.budget import BudgetLedger
from assay.llm_cache import ResponseCache, cache_key
from assay.llm_transport import Completion, CompletionRequest, FatalError, TransientError, Transport
from assay.trace import CallRecord, Trace

T = TypeVar("T", bound=BaseModel)
FENCED_JSON = re.compile(r"```(?:json)?\s*(\{.*?\}|\[.*?\])\s*```", re.DOTALL)
SCHEMA_INSTRUCTION = (
    "Answer with one JSON object and nothing else. It must be valid against this JSON Schema:\n{schema}"
)
REPAIR_INSTRUCTION = (
    "Your answer could not be used: {error}\nReply again with only the corrected JSON object, "
    "valid against the schema."
)


@dataclass(frozen=True)
class GatewaySettings:
    """How the gateway calls models."""

    concurrency: int = 8
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    timeout_s: float = 120.0
    repair_rounds: int = 1


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
        """Ask `model` for an instance of `output_type`; raises only BudgetExhausted."""
        schema, instruction = _schema_of(output_type)
        self.trace.redactor.add((params or {}).get("api_key"))
        conversation = _with_schema_instruction(list(messages), instruction)
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
                return LLMResult(None, raw, error, tuple(call_ids), False, *totals)
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
        return LLMResult(None, raw, error, tuple(call_ids), all_cached, *totals)

    async def _call(self, ctx: _CallContext, messages: list[dict[str, Any]]) -> tuple[Completion | None, bool, list[int], str | None]:
        """One request with cache and retries: (completion, from_cache, traced call ids, error)."""
        params = ctx.params
        key = cache_key(ctx.model, messages, params, ctx.schema, ctx.prompt_version)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                call_id = self.trace.llm_call(ctx.record(messages, "cached", 1, 0.0, hit, cache_key=key))
                return hit, True, [call_id], None
        request = CompletionRequest(ctx.model, messages, ctx.schema, ctx.schema_name, params, self.settings.timeout_s)
        call_ids: list[int] = []
        attempt = 0

        async def attempt_once() -> Completion:
            nonlocal attempt
            attempt += 1
            self.budget.reserve_call()
            started = self.monotonic()
            try:
                async with self._slots:
                    completion = await self.transport(request)
            except (TransientError, FatalError) as err:
                latency = (self.monotonic() - started) * 1000
                call_ids.append(self.trace.llm_call(ctx.record(messages, "error", attempt, latency, None, error=str(err))))
                raise
            latency = (self.monotonic() - started) * 1000
            self.budget.charge(completion.prompt_tokens + completion.completion_tokens, completion.cost_usd)
            call_ids.append(self.trace.llm_call(ctx.record(messages, "ok", attempt, latency, completion, cache_key=key)))
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
        if self.cache is not None:
            self.cache.put(key, ctx.model, completion)
        return completion, False, call_ids, None

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
               completion: Completion | None, *, error: str | None = None, cache_key: str | None = None) -> CallRecord:
        spent = completion if completion is not None and outcome != "cached" else Completion("")
        return CallRecord(
            agent=self.agent, model=self.model, prompt_version=self.prompt_version, messages=messages,
            params=self.params, outcome=outcome, attempt=attempt, latency_ms=latency_ms,
            response=completion.text if completion is not None else None, error=error,
            prompt_tokens=spent.prompt_tokens, completion_tokens=spent.completion_tokens, cost_usd=spent.cost_usd,
            cache_key=cache_key, sample_ids=self.sample_ids, round=self.round,
        )


def parse_structured(text: str, output_type: type[T]) -> tuple[T | None, str | None]:
    """Validate a model's answer, tolerating prose or a code fence around the JSON."""
    candidates = [text.strip()]
    fenced = FENCED_JSON.search(text)
    if fenced:
        candidates.append(fenced.group(1))
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    first_error: str | None = None
    for candidate in candidates:
        try:
            return output_type.model_validate_json(candidate), None
        except ValidationError as err:
            first_error = first_error or _describe_validation(err)
    return None, first_error or "empty answer"


def _describe_validation(err: ValidationError) -> str:
    parts = []
    for problem in err.errors()[:5]:
        where = ".".join(str(p) for p in problem["loc"]) or "(answer)"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


@functools.lru_cache(maxsize=256)
def _schema_of(output_type: type[BaseModel]) -> tuple[dict[str, Any], str]:
    """The JSON schema of an output model and the instruction quoting it (built once: it is slow)."""
    schema = output_type.model_json_schema()
    return schema, SCHEMA_INSTRUCTION.format(schema=json.dumps(schema, separators=(",", ":")))


def _with_schema_instruction(messages: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    if messages and messages[0].get("role") == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{instruction}"}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
