"""Budget accounting for LLM spend: calls, tokens and dollars, restored on resume.

A call is claimed (`admit`) just before it is sent, inside the gateway's concurrency slot, with
an estimate of its tokens and cost; the estimate is replaced by the real figures when it ends
(`settle`). A call whose estimate, added to the calls in flight, would pass a limit waits for
those calls to end; with none in flight it goes if the limit is not yet reached. So a limit is
overshot by at most the calls in flight when it was reached. Calls that never ended (a kill)
keep their estimate in the trace, and `restore` counts them: a resumed session never forgets a
call it may have paid for.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from assay.core.errors import BudgetExhausted


@dataclass(frozen=True)
class Reservation:
    """What one call in flight is assumed to cost until it ends."""

    tokens: int
    usd: float


@dataclass
class BudgetLedger:
    """Limits (None = unlimited) and what has been spent against them, the estimates of calls in flight included."""

    max_calls: int | None = None
    max_tokens: int | None = None
    max_usd: float | None = None
    calls: int = 0
    tokens: int = 0
    usd: float = 0.0
    in_flight: int = 0
    reserved_tokens: int = 0
    reserved_usd: float = 0.0

    def exhausted(self) -> str | None:
        """Which limit is spent by calls that ended (or were claimed, for the call limit), in words with the figures."""
        flying = f"; {self.in_flight} in flight" if self.in_flight else ""
        tokens, usd = self.tokens - self.reserved_tokens, self.usd - self.reserved_usd
        if self.max_calls is not None and self.calls >= self.max_calls:
            return f"LLM call budget spent ({self.calls} of {self.max_calls} calls{flying})"
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"token budget spent ({tokens:,} of {self.max_tokens:,} tokens, {self._calls()}{flying})"
        if self.max_usd is not None and usd >= self.max_usd - 1e-9:
            return f"USD budget spent (${usd:.4f} of ${self.max_usd:.4f}, {self._calls()}{flying})"
        return None

    def _calls(self) -> str:
        return f"{self.calls} call{'s' if self.calls != 1 else ''}"

    def admit(self, tokens: int = 0, usd: float = 0.0) -> Reservation | None:
        """Claim one call about to be sent, at its estimated cost, or None: wait for a call in flight to end.

        Raises BudgetExhausted when a limit is reached.
        """
        spent = self.exhausted()
        if spent:
            raise BudgetExhausted(spent)
        over_tokens = self.max_tokens is not None and self.tokens + tokens > self.max_tokens
        over_usd = self.max_usd is not None and self.usd + usd > self.max_usd + 1e-9
        if self.in_flight and (over_tokens or over_usd):
            return None
        self.calls += 1
        self.in_flight += 1
        self.tokens += tokens
        self.usd += usd
        self.reserved_tokens += tokens
        self.reserved_usd += usd
        return Reservation(tokens, usd)

    def settle(self, reservation: Reservation, tokens: int, usd: float) -> None:
        """Replace a finished call's estimate with what it really cost."""
        self.in_flight -= 1
        self.reserved_tokens -= reservation.tokens
        self.reserved_usd -= reservation.usd
        self.tokens += tokens - reservation.tokens
        self.usd += usd - reservation.usd

    def restore(self, conn: sqlite3.Connection) -> None:
        """Count what this session already spent (for `assay resume`), from its trace.

        Rows of calls that never ended ('in_flight' at a kill, 'cancelled', 'aborted') hold their
        estimate: they may have been paid, so they count.
        """
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(cost_usd), 0) "
            "FROM llm_calls WHERE outcome != 'cached'"
        ).fetchone()
        self.calls, self.tokens, self.usd = int(row[0]), int(row[1]), float(row[2])
        self.in_flight, self.reserved_tokens, self.reserved_usd = 0, 0, 0.0
