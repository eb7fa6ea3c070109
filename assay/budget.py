"""Budget accounting for LLM spend: calls, tokens and dollars, restored on resume."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from assay.errors import BudgetExhausted


@dataclass
class BudgetLedger:
    """Limits (None = unlimited) and what has been spent against them."""

    max_calls: int | None = None
    max_tokens: int | None = None
    max_usd: float | None = None
    calls: int = 0
    tokens: int = 0
    usd: float = 0.0

    def exhausted(self) -> str | None:
        """Which limit is spent, in words, or None."""
        if self.max_calls is not None and self.calls >= self.max_calls:
            return f"LLM call budget spent ({self.calls} of {self.max_calls} calls)"
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"token budget spent ({self.tokens:,} of {self.max_tokens:,} tokens)"
        if self.max_usd is not None and self.usd >= self.max_usd:
            return f"USD budget spent (${self.usd:.4f} of ${self.max_usd:.4f})"
        return None

    def reserve_call(self) -> None:
        """Claim one call before making it; raises BudgetExhausted when a limit is reached.

        Tokens and cost are only known afterwards, so concurrent calls in flight may
        overshoot those two limits by at most the concurrency bound's worth of calls.
        """
        spent = self.exhausted()
        if spent:
            raise BudgetExhausted(spent)
        self.calls += 1

    def charge(self, tokens: int, usd: float) -> None:
        """Add what a finished call cost."""
        self.tokens += tokens
        self.usd += usd

    def restore(self, conn: sqlite3.Connection) -> None:
        """Count what this session already spent (for `assay resume`), from its trace."""
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(cost_usd), 0) "
            "FROM llm_calls WHERE outcome != 'cached'"
        ).fetchone()
        self.calls, self.tokens, self.usd = int(row[0]), int(row[1]), float(row[2])
