"""The session trace: events, decisions and LLM calls, written to the session DB.

Everything an agent is told and answers lands here, with API keys and other secrets
taken out before a byte is written.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Clock = Callable[[], datetime]
SECRET_ENV_NAME = re.compile(r"(API_KEY|APIKEY|_TOKEN|SECRET|PASSWORD|_KEY)$", re.IGNORECASE)
SECRET_PARAM_NAMES = {"api_key", "authorization", "headers", "extra_headers", "aws_secret_access_key"}
MIN_SECRET_LENGTH = 6
REDACTED = "[REDACTED]"


class Redactor:
    """Removes secret values (from the environment and from call parameters) from text."""

    def __init__(self, env: Mapping[str, str], extra: Iterable[str] = ()) -> None:
        values = {v for k, v in env.items() if SECRET_ENV_NAME.search(k)} | set(extra)
        self._secrets = sorted((v for v in values if v and len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        """Also redact this value from now on."""
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str | None) -> str | None:
        """The text with every known secret replaced."""
        if not value:
            return value
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call parameters without credential-bearing entries."""
        return {k: v for k, v in params.items() if k.lower() not in SECRET_PARAM_NAMES}


@dataclass(frozen=True)
class Decision:
    """What an agent or tool decided about one sample."""

    sample_id: str | None
    agent: str
    action: str
    reason: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    call_ids: list[int] = field(default_factory=list)
    round: int | None = None


@dataclass
class CallRecord:
    """One attempt at an LLM call, as the gateway saw it."""

    agent: str
    model: str
    prompt_version: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    outcome: str  # ok | invalid | error | cached
    attempt: int
    latency_ms: float
    response: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cache_key: str | None = None
    sample_ids: list[str] = field(default_factory=list)
    round: int | None = None


class Trace:
    """Writes the session's trace; one per session, used from one thread."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, redactor: Redactor) -> None:
        self.conn = conn
        self.clock = clock
        self.redactor = redactor

    def _now(self) -> str:
        return self.clock().isoformat()

    def event(self, kind: str, message: str, data: Mapping[str, Any] | None = None, *, round: int | None = None) -> int:
        """Record a session-level event (ingest, round start, stop …)."""
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO events (ts, round, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                (self._now(), round, kind, self.redactor.text(message), _dumps(data or {})),
            )
        return int(cur.lastrowid)

    def decision(
        self,
        sample_id: str | None,
        agent: str,
        action: str,
        *,
        reason: str | None = None,
        scores: Mapping[str, float] | None = None,
        call_ids: Iterable[int] = (),
        round: int | None = None,
    ) -> int:
        """Record what an agent or tool decided about a sample, and the calls behind it."""
        return self.decisions([Decision(sample_id, agent, action, reason, dict(scores or {}), list(call_ids), round)])[-1]

    def decisions(self, decisions: Sequence[Decision]) -> list[int]:
        """Record many decisions in one transaction; returns their ids."""
        now = self._now()
        ids = []
        with self.conn:
            for d in decisions:
                cur = self.conn.execute(
                    "INSERT INTO decisions (ts, round, sample_id, agent, action, reason, scores, call_ids) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (now, d.round, d.sample_id, d.agent, d.action, d.reason, _dumps(d.scores), _dumps(d.call_ids)),
                )
                ids.append(int(cur.lastrowid))
        return ids

    def llm_call(self, call: CallRecord) -> int:
        """Record one LLM call attempt, secrets removed."""
        redact = self.redactor.text
        request = redact(_dumps({"messages": call.messages, "params": self.redactor.params(call.params)}))
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO llm_calls (ts, round, agent, model, prompt_version, request, response, outcome, error, "
                "attempt, latency_ms, prompt_tokens, completion_tokens, cost_usd, cache_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._now(), call.round, call.agent, call.model, call.prompt_version, request,
                    redact(call.response), call.outcome, redact(call.error), call.attempt, call.latency_ms,
                    call.prompt_tokens, call.completion_tokens, call.cost_usd, call.cache_key,
                ),
            )
            call_id = int(cur.lastrowid)
            self.conn.executemany(
                "INSERT INTO llm_call_samples (call_id, sample_id) VALUES (?, ?)",
                [(call_id, sample_id) for sample_id in call.sample_ids],
            )
        return call_id

    def mark_invalid(self, call_id: int, error: str | None) -> None:
        """Record that a call's answer failed validation (a cached answer stays marked cached)."""
        with self.conn:
            self.conn.execute(
                "UPDATE llm_calls SET outcome = CASE outcome WHEN 'cached' THEN 'cached' ELSE 'invalid' END, "
                "error = ? WHERE id = ?",
                (self.redactor.text(error), call_id),
            )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
