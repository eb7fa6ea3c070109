"""What every scoring tool returns, and the batch shape it works on.

A tool is a function (or a callable object holding a model loaded once) over a batch of
samples, returning one `Assessment` per sample in the same order. Working on batches keeps
the same code usable in-process today and inside a distributed engine's `map_batches`
later. A tool never deletes anything: a drop is a verdict with a reason code, and the
sample stays in the session with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assay.core.records import Sample


@dataclass(frozen=True)
class Assessment:
    """One tool's view of one sample: scores, and keep or drop-with-reason."""

    keep: bool = True
    reason: str | None = None  # a reason code such as "empty_output" or "duplicate_of:<id>"
    detail: str | None = None  # a short human explanation of the reason
    scores: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.keep and not self.reason:
            raise ValueError("a drop needs a reason code")


KEEP = Assessment()


def drop(reason: str, detail: str | None = None, **scores: float) -> Assessment:
    """A drop verdict with its reason code."""
    return Assessment(keep=False, reason=reason, detail=detail, scores=dict(scores))


class BatchTool(Protocol):
    """The shape every tool has: a batch of samples in, one Assessment per sample out."""

    name: str

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]: ...
