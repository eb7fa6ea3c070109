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
DECISION_CHUNK = 500  # rows per INSERT: 500 x 8 values stay under SQLite's bound-parameter limit
SECRET_ENV_NAME = re.compile(r"(API_KEY|APIKEY|_TOKEN|SECRET|PASSWORD|_KEY)$", re.IGNORECASE)
SECRET_PARAM_NAMES = {"api_key", "authorization", "headers", "extra_headers", "aws_secret_access_key"}
MIN_SECRET_LENGTH = 6
REDACTED = "[REDACTED]"
# Key-shaped strings, caught whatever the environment holds: a provider may echo a key that the
# writing process never named, and a reader of the trace must not depend on its own environment.
# The masked echoes providers print (`sk-ab****wxyz`) go too: their ends narrow a key down.
# Every repetition is bounded or anchored, so the scan stays linear on any text.
KEY_SHAPED = re.compile(
    r"\b(?P<sk>sk-[A-Za-z0-9_*-]{12,})"  # OpenAI, Anthropic (sk-ant-…), DeepSeek, masked; words like sk-learn-… stay
    r"|\b(?:AIza[0-9A-Za-z_-]{30,}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|gsk_[A-Za-z0-9]{20,}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b"
    r"|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{2,40}\*{4,}[A-Za-z0-9_-]{2,}"  # any other masked echo
    r"|(?<=[Bb]earer )[A-Za-z0-9._~+/=-]{16,}",
)


class Redactor:
    """Removes secrets from text: values of secret environment variables and call parameters, and
    anything shaped like an API key."""

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
        return KEY_SHAPED.sub(_redact_key_shaped, value)

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
    # ok | invalid | error | cached, or for a call that never ended: in_flight (written before the
    # send, so a kill leaves it), cancelled (a sibling failed), aborted (a bug); those keep their estimate.
    outcome: str
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
                (self._now(), round, kind, self.redactor.text(message), self.redactor.text(_dumps(data or {}))),
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
        rows = [(now, d.round, d.sample_id, d.agent, d.action, self.redactor.text(d.reason), _dumps(d.scores),
                 _dumps(d.call_ids)) for d in decisions]
        ids: list[int] = []
        # One statement per chunk, not one per row: the text index's trigger (migration 0004) makes each
        # statement a savepoint, at which FTS5 flushes its pending index (ten times the cost a row).
        # RETURNING lists the new ids in no set order; one statement gives its rows ascending ids in
        # VALUES order, so sorted they line up with the decisions.
        with self.conn:
            for start in range(0, len(rows), DECISION_CHUNK):
                part = rows[start : start + DECISION_CHUNK]
                values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
                cur = self.conn.execute(
                    "INSERT INTO decisions (ts, round, sample_id, agent, action, reason, scores, call_ids) "
                    f"VALUES {values} RETURNING id", [value for row in part for value in row])
                ids += sorted(int(r[0]) for r in cur.fetchall())
        return ids

    def llm_call(self, call: CallRecord) -> int:
        """Record one LLM call attempt, secrets removed (a finished one, or one about to be sent)."""
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

    def call_ended(self, call_id: int, call: CallRecord) -> None:
        """Replace an 'in_flight' call row with how the call ended, secrets removed."""
        redact = self.redactor.text
        with self.conn:
            self.conn.execute(
                "UPDATE llm_calls SET response = ?, outcome = ?, error = ?, latency_ms = ?, prompt_tokens = ?, "
                "completion_tokens = ?, cost_usd = ?, cache_key = ? WHERE id = ?",
                (redact(call.response), call.outcome, redact(call.error), call.latency_ms, call.prompt_tokens,
                 call.completion_tokens, call.cost_usd, call.cache_key, call_id),
            )

    def mark_invalid(self, call_id: int, error: str | None) -> None:
        """Record that a call's answer failed validation (a cached answer stays marked cached)."""
        with self.conn:
            self.conn.execute(
                "UPDATE llm_calls SET outcome = CASE outcome WHEN 'cached' THEN 'cached' ELSE 'invalid' END, "
                "error = ? WHERE id = ?",
                (self.redactor.text(error), call_id),
            )


def _redact_key_shaped(match: re.Match[str]) -> str:
    sk = match.group("sk")
    # A real key (or its masked echo) has digits or stars; a hyphenated word after "sk-" has neither.
    if sk is not None and not any(c.isdigit() or c == "*" for c in sk):
        return sk
    return REDACTED


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
