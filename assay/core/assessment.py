"""What every scoring tool returns, and the batch shape it works on.

A tool is a function (or a callable object holding a model loaded once) over a batch of
samples, returning one `Assessment` per sample in the same order. Working on batches keeps
the same code usable in-process today and inside a distributed engine's `map_batches`
later. A tool never deletes anything: a drop is a verdict with a reason code, and the
sample stays in the session with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class FilterPlugin(Protocol):
    """A filter from another package, registered under the entry point group `assay.filters`.

    The entry point names a factory (a class or a function) that assay calls with the
    plugin's recipe settings as keyword arguments (`[plugins.settings.NAME]`, none when the
    recipe has no such table); it returns this callable. Called with a batch of the samples
    still kept by the stages before it, it returns one `Assessment` per sample, in order:
    `KEEP` (optionally with scores), or `drop(reason, detail)` with a short reason code.
    Dropped samples stay in the session and the output with that reason.
    """

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]: ...


class ScorerPlugin(Protocol):
    """A scorer from another package, registered under the entry point group `assay.scorers`.

    Constructed like a `FilterPlugin`. Called with a batch of kept samples, it returns one
    mapping of score name to number per sample, in order; the scores land beside the built-in
    ones (`_assay.scores`, the session's store) and `assay select --score NAME` can select on
    them. A scorer never drops a sample.
    """

    def __call__(self, batch: Sequence[Sample]) -> list[Mapping[str, float]]: ...
