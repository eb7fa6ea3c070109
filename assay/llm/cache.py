"""The LLM response cache, in the session DB: a resumed session never pays twice."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from assay.llm.transport import Completion
from assay.trace.log import Clock, Redactor

# Parameters that change how a call is made, not what it answers.
NOT_IN_KEY = {"timeout", "api_key", "api_base"}


def cache_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any], schema: dict[str, Any] | None, prompt_version: str) -> str:
    """The key of a request: model, messages, answer-shaping params, schema, prompt version."""
    shaping = {k: v for k, v in sorted(params.items()) if k not in NOT_IN_KEY}
    canonical = json.dumps(
        {"model": model, "messages": messages, "params": shaping, "schema": schema, "prompt_version": prompt_version},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Raw model answers by request key (secrets removed, like everything in the session DB)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, redactor: Redactor) -> None:
        self.conn = conn
        self.clock = clock
        self.redactor = redactor

    def get(self, key: str) -> Completion | None:
        """The cached answer for this key, if any."""
        row = self.conn.execute(
            "SELECT response, prompt_tokens, completion_tokens, cost_usd FROM llm_cache WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], prompt_tokens=row[1], completion_tokens=row[2], cost_usd=row[3])

    def put(self, key: str, model: str, completion: Completion) -> None:
        """Remember an answer (the first one wins, so replays stay stable)."""
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO llm_cache (key, model, response, prompt_tokens, completion_tokens, cost_usd, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, model, self.redactor.text(completion.text), completion.prompt_tokens, completion.completion_tokens,
                 completion.cost_usd, self.clock().isoformat()),
            )
