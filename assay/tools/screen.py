"""Screening: run the scoring tools over a pool in stages and merge their verdicts.

Each stage sees only the samples that survived the stages before it (a sample dropped by
a heuristic is not worth deduplicating or scoring further), and a sample's reason is that
of the first stage that dropped it. Scores from every stage that saw a sample are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assay.core.records import Sample
from assay.core.assessment import Assessment

StageFn = Callable[[Sequence[Sample]], list[Assessment]]


@dataclass(frozen=True)
class Stage:
    """A named screening step over the surviving samples."""

    name: str
    run: StageFn


@dataclass
class StageReport:
    """What one stage did."""

    name: str
    seen: int
    dropped: int
    seconds: float


@dataclass
class ScreenResult:
    """Per-sample outcome of screening, in input order, and per-stage reports."""

    samples: list[Sample]
    outcomes: dict[str, Assessment]
    dropped_by: dict[str, str] = field(default_factory=dict)  # sample id -> stage name
    stages: list[StageReport] = field(default_factory=list)

    def kept(self) -> list[Sample]:
        """Samples no stage dropped."""
        return [s for s in self.samples if self.outcomes[s.id].keep]


def run_stages(samples: Sequence[Sample], stages: Sequence[Stage], *,
               on_stage: Callable[[str, int], None] | None = None) -> ScreenResult:
    """Run each stage on the survivors of the previous ones; merge scores, keep first drop reason."""
    unique = list({s.id: s for s in samples}.values())
    outcomes = {s.id: Assessment() for s in unique}
    result = ScreenResult(unique, outcomes)
    for stage in stages:
        alive = [s for s in unique if outcomes[s.id].keep]
        if on_stage is not None:
            on_stage(stage.name, len(alive))
        started = time.perf_counter()
        verdicts = stage.run(alive) if alive else []
        if len(verdicts) != len(alive):
            raise RuntimeError(f"stage {stage.name} returned {len(verdicts)} verdicts for {len(alive)} samples")
        dropped = 0
        for sample, verdict in zip(alive, verdicts, strict=True):
            previous = outcomes[sample.id]
            merged = {**previous.scores, **verdict.scores}
            if verdict.keep:
                outcomes[sample.id] = Assessment(scores=merged)
            else:
                dropped += 1
                result.dropped_by[sample.id] = stage.name
                outcomes[sample.id] = Assessment(False, verdict.reason, verdict.detail, merged)
        result.stages.append(StageReport(stage.name, len(alive), dropped, time.perf_counter() - started))
    return result
