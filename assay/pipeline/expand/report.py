"""What an expansion produced: kept samples, rejections with reasons, spend, and a summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from assay.agents.synth_ops import RequestPlan
from assay.core.records import Sample


@dataclass(frozen=True)
class KeptSample:
    """A new sample that passed, with what it was grown from."""

    sample: Sample
    seed_id: str
    topic: str
    attributes: tuple[str, ...]
    op: str
    hop: int
    relevance: int | None
    judge_overall: float


@dataclass(frozen=True)
class Rejection:
    """A candidate that did not pass, and why (`sample` is None when none was written)."""

    reason: str
    op: str
    hop: int
    seed_id: str
    sample: Sample | None = None


@dataclass
class ExpansionReport:
    """What an expansion generated, kept and rejected, and what it spent."""

    request: str
    plan: RequestPlan | None = None
    seed_ids: list[str] = field(default_factory=list)
    seedless: bool = False
    kept: list[KeptSample] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    generated: int = 0  # candidates attempted
    problems: list[str] = field(default_factory=list)  # failed plans (request, attributes)
    stopped: str = ""
    calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    def by_reason(self) -> dict[str, int]:
        """Rejections counted by reason family (`irrelevant:3` → `irrelevant`, `failed:judge: …` → `failed:judge`)."""
        return dict(Counter(reason_family(r.reason) for r in self.rejected).most_common())

    def summary(self) -> dict[str, Any]:
        """The report as plain data (for the trace event and the CLI)."""
        plan = self.plan.model_dump() if self.plan is not None else None
        return {"request": self.request, "plan": plan, "seeds": self.seed_ids, "seedless": self.seedless,
                "generated": self.generated, "kept": len(self.kept), "rejected": len(self.rejected),
                "by_reason": self.by_reason(), "problems": self.problems, "stopped": self.stopped,
                "calls": self.calls, "tokens": self.tokens, "cost_usd": self.cost_usd}


def reason_family(reason: str) -> str:
    """The kind of a reason code: `elimination:` and `failed:` keep their rule or step."""
    head, _, rest = reason.partition(":")
    if head in ("elimination", "failed") and rest:
        return f"{head}:{rest.split(':')[0].strip()}"
    return head
