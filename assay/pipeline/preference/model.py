"""The preference pair, the builder's options, and what a build produced and dropped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from assay.core.records import Message

Source = Literal["repair", "synthetic_sibling", "judged_response"]
SOURCES: tuple[Source, ...] = ("repair", "synthetic_sibling", "judged_response")
DEFAULT_MIN_MARGIN = 1.0  # one point on the judge's 1-5 scale


@dataclass(frozen=True)
class PairOptions:
    """Which sources to read and the smallest pointwise margin a pair may have."""

    min_margin: float = DEFAULT_MIN_MARGIN
    sources: tuple[Source, ...] = SOURCES

    def __post_init__(self) -> None:
        unknown = set(self.sources) - set(SOURCES)
        if unknown or not self.sources:
            raise ValueError(f"unknown or no pair sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
        if self.min_margin < 0:
            raise ValueError(f"min_margin must be >= 0, not {self.min_margin}")


@dataclass(frozen=True)
class PreferencePair:
    """One pair: the conversation so far, the better and the worse reply, and the evidence.

    `prompt` is a list of chat messages (TRL's conversational format): every turn before the
    final reply, multi-turn samples keeping all their turns; `chosen` and `rejected` are
    each the one assistant message that follows it.
    `margin` is the pointwise judge difference (chosen − rejected) when both sides have a
    verdict, else None (a repair pair then stands on its two-order pairwise preference).
    """

    source: Source
    prompt: tuple[Message, ...]
    chosen: str
    rejected: str
    chosen_id: str
    rejected_id: str
    margin: float | None
    orders_agree: bool | None  # True: a pairwise verdict in both orders; None: no pairwise verdict
    verdict_ids: tuple[int, ...] = ()  # judgements rows (pointwise verdicts) of the two sides
    pairwise_call_ids: tuple[int, ...] = ()  # the LLM calls of the pairwise verdict, both orders
    decision_ids: tuple[int, ...] = ()  # trace decisions that accepted, kept or rejected either side

    def row(self) -> dict[str, Any]:
        """The JSONL row: TRL's prompt/chosen/rejected plus margin, source and provenance."""
        return {
            "prompt": [m.model_dump() for m in self.prompt],
            "chosen": [{"role": "assistant", "content": self.chosen}],
            "rejected": [{"role": "assistant", "content": self.rejected}],
            "margin": round(self.margin, 4) if self.margin is not None else None,  # no float noise (0.356, not 0.35599…)
            "source": self.source,
            "provenance": {
                "chosen_id": self.chosen_id, "rejected_id": self.rejected_id,
                "orders_agree": self.orders_agree, "verdict_ids": list(self.verdict_ids),
                "pairwise_call_ids": list(self.pairwise_call_ids), "decision_ids": list(self.decision_ids),
            },
        }


@dataclass
class PairSet:
    """The pairs a build kept, and the candidate pairs it dropped, counted by (source, reason)."""

    pairs: list[PreferencePair] = field(default_factory=list)
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)

    def counts(self) -> dict[str, dict[str, Any]]:
        """Per source: pairs kept and the drops by reason (every source listed, also when empty)."""
        kept = Counter(p.source for p in self.pairs)
        out: dict[str, dict[str, Any]] = {}
        for source in SOURCES:
            drops = {reason: n for (s, reason), n in sorted(self.dropped.items()) if s == source}
            out[source] = {"pairs": kept.get(source, 0), "dropped": drops}
        return out

    def summary(self) -> dict[str, Any]:
        """Plain data for the CLI, the report and scripts."""
        return {"pairs": len(self.pairs), "dropped": sum(self.dropped.values()), "by_source": self.counts()}
