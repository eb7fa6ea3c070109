"""A scripted fake model for tests: the only fake in assay, at the LLM boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assay.agents.base import AgentContext
from assay.llm.budget import BudgetLedger
from assay.llm.gateway import Gateway, GatewaySettings
from assay.llm.cache import ResponseCache
from assay.llm.transport import Completion, CompletionRequest

Step = str | Completion | Exception | Callable[[CompletionRequest], "str | Completion"]


@dataclass
class ScriptedTransport:
    """Answers requests from a script, in order; records every request it was sent.

    A step is the answer text, a Completion, an exception to raise (TransientError,
    FatalError …), or a function of the request. When the script runs out, `default`
    answers (if given), else the call fails the test loudly.
    """

    script: list[Step] = field(default_factory=list)
    default: Step | None = None
    delay_s: float = 0.0
    requests: list[CompletionRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    async def __call__(self, request: CompletionRequest) -> Completion:
        """Serve the next scripted step."""
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            step = self.script.pop(0) if self.script else self.default
            if step is None:
                raise AssertionError(f"scripted model has no answer left for request #{len(self.requests)}")
            if isinstance(step, Exception):
                raise step
            if callable(step):
                step = step(request)
            return step if isinstance(step, Completion) else Completion(text=step, prompt_tokens=10, completion_tokens=5)
        finally:
            self.in_flight -= 1


class RecordedSleeps:
    """Stands in for asyncio.sleep: records the waits asked for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        """Record one wait."""
        self.waits.append(seconds)


def scripted_gateway(session: Any, transport: ScriptedTransport, *, budget: BudgetLedger | None = None,
                     cache: bool = True, sleeps: RecordedSleeps | None = None, **settings: Any) -> Gateway:
    """A real gateway (trace, cache, budget) in `session` whose model is the scripted fake."""
    return Gateway(
        transport=transport, trace=session.trace,
        cache=ResponseCache(session.conn, session.runtime.clock, session.redactor) if cache else None,
        budget=budget or BudgetLedger(), settings=GatewaySettings(**settings), sleep=sleeps or RecordedSleeps(),
    )


def scripted_context(session: Any, script: list[Step] | None = None, *, default: Step | None = None,
                     model: str = "fake/model", **gateway_options: Any) -> tuple[AgentContext, ScriptedTransport]:
    """An agent context over a scripted model, and the transport (to inspect the requests)."""
    transport = ScriptedTransport(list(script or []), default=default)
    return AgentContext(scripted_gateway(session, transport, **gateway_options), model), transport
