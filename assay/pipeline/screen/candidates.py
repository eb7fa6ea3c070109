"""Screening of synthesized samples: heuristics, code checks, decontamination, and dedup against the pool.

The same LLM-free tools as `assay score` (assay.pipeline.screen.scoring), in the same order, except that
dedup compares each batch of new samples with a reference — the pool the seeds came from
and every new sample accepted so far — besides each other. Reference samples come first
in every dedup call, so when a new sample repeats one of them, the new one is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assay.core.records import Sample
from assay.core.recipe_screen import ScreenSettings
from assay.pipeline.screen.scoring import (DEDUP_METHODS, VectorCache, code_screen, decontam_options, dedup_options,
                                           heuristic_screen)
from assay.core.assessment import Assessment
from assay.tools.screen import ScreenResult, Stage, run_stages


class CandidateScreen:
    """Screens batches of new samples; `accept` adds passed ones to the dedup reference."""

    def __init__(self, reference: Sequence[Sample] = (), *, dedup_methods: Sequence[str] = ("exact", "minhash"),
                 vectors: VectorCache | None = None, decontam: Sequence[Path] = (), heuristics: bool = True,
                 seed: int = 1, plugins: Sequence[Stage] = (), screen: ScreenSettings | None = None) -> None:
        unknown = set(dedup_methods) - set(DEDUP_METHODS)
        if unknown:
            raise ValueError(f"unknown dedup methods {sorted(unknown)}; choose from {DEDUP_METHODS}")
        if "semantic" in dedup_methods and vectors is None:
            raise ValueError("semantic dedup needs embeddings")
        self.reference: list[Sample] = list({s.id: s for s in reference}.values())
        self.dedup_methods = tuple(dedup_methods)
        self.vectors = vectors
        self.seed = seed
        settings = screen or ScreenSettings()  # the recipe's [screen]: switches and thresholds
        self.dedup_options = dedup_options(settings)
        self.stages: list[Stage] = []
        checks = heuristic_screen(settings.heuristics) if heuristics else None
        if checks is not None:
            self.stages.append(Stage("heuristics", checks))
        code = code_screen(settings.code) if heuristics else None
        if code is not None:
            self.stages.append(Stage("code", code))
        if decontam:
            from assay.tools.decontam import Decontaminator

            self.stages.append(Stage("decontam", Decontaminator(list(decontam), embedder=vectors,
                                                                **decontam_options(settings.decontam, vectors))))
        if self.dedup_methods:
            self.stages.append(Stage("dedup", self._dedup))
        self.stages.extend(plugins)  # filter and scorer plugins (pipeline/plugins.py), after the built-ins

    def __call__(self, batch: Sequence[Sample]) -> ScreenResult:
        """Each new sample's verdict; the first stage that drops a sample gives its reason."""
        return run_stages(batch, self.stages)

    def accept(self, samples: Sequence[Sample]) -> None:
        """Count these new samples as part of the pool from now on (later ones must differ from them)."""
        known = {s.id for s in self.reference}
        self.reference += [s for s in samples if s.id not in known]

    def _dedup(self, batch: Sequence[Sample]) -> list[Assessment]:
        from assay.tools.dedup import dedup

        both = [*self.reference, *batch]
        vectors = self.vectors.encode([s.text() for s in both]) if "semantic" in self.dedup_methods and self.vectors else None
        result = dedup(both, self.dedup_methods, vectors, seed=self.seed, embedder=self.vectors, **self.dedup_options)
        return result.assessments[len(self.reference):]
