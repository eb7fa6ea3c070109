"""Screen samples with the LLM-free tools, in stages, embeddings computed once: the run's pool
(screen/pool.py) and `assay score` files (screen/files.py).

Stage order: heuristics, decontamination, dedup, IFD, then clusters and novelty. Cheap
filters run first so the expensive ones only see survivors; embeddings are computed once
(by the session's store when there is one) and shared by semantic dedup, embedding
decontamination and clustering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assay.core.records import Sample
from assay.tools.screen import ScreenResult, Stage, run_stages

DEDUP_METHODS = ("exact", "minhash", "semantic")


@dataclass(frozen=True)
class ScoreOptions:
    """Which tools run, and how."""

    heuristics: bool = True
    dedup: tuple[str, ...] = ("exact", "minhash")
    decontam: tuple[Path, ...] = ()
    ifd: bool = False
    ifd_model: str | None = None
    embed: bool = True
    clusters: int | None = None
    seed: int = 0


class VectorCache:
    """An encoder answering known texts from precomputed vectors, and embedding the rest."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, encode: Callable[[list[str]], np.ndarray]) -> None:
        self.row_of = {text: row for row, text in enumerate(texts)}
        self.vectors = vectors
        self._encode = encode

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts`, embedding only those not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.row_of]
        if missing:
            new = self._encode(missing)
            base = len(self.vectors)
            self.vectors = np.concatenate([self.vectors, new]) if base else np.asarray(new)
            self.row_of.update({t: base + i for i, t in enumerate(missing)})
        return self.vectors[[self.row_of[t] for t in texts]]


def build_stages(options: ScoreOptions, vectors: VectorCache | None) -> list[Stage]:
    """The screening stages the options ask for, in order."""
    stages: list[Stage] = []
    if options.heuristics:
        from assay.tools.heuristics import HeuristicScreen

        stages.append(Stage("heuristics", HeuristicScreen()))
    if options.decontam:
        from assay.tools.decontam import Decontaminator

        stages.append(Stage("decontam", Decontaminator(list(options.decontam), embedder=vectors)))
    if options.dedup:
        from assay.tools.dedup import Dedup

        if "semantic" in options.dedup and vectors is None:
            raise ValueError("semantic dedup needs embeddings; drop --no-embed or the semantic method")
        stages.append(Stage("dedup", Dedup(options.dedup, embedder=vectors, seed=options.seed)))
    if options.ifd:
        from assay.tools.ifd import IFDScorer

        stages.append(Stage("ifd", IFDScorer(model=options.ifd_model) if options.ifd_model else IFDScorer()))
    if vectors is not None:
        stages.append(Stage("clusters", _cluster_stage(vectors, options)))
    return stages


def _cluster_stage(vectors: VectorCache, options: ScoreOptions) -> Callable[[Sequence[Sample]], list[Any]]:
    def run(batch: Sequence[Sample]) -> list[Any]:
        from assay.tools.coverage import ClusterTagger

        tagger = ClusterTagger([s.id for s in batch], vectors.encode([s.text() for s in batch]),
                               embed=vectors.encode, n_clusters=options.clusters, seed=options.seed)
        return tagger(batch)

    return run


def score_pool(samples: Sequence[Sample], options: ScoreOptions, vectors: VectorCache | None, *,
               on_stage: Callable[[str, int], None] | None = None) -> tuple[ScreenResult, dict[str, int]]:
    """Screen the samples; returns the result and each surviving sample's cluster."""
    result = run_stages(samples, build_stages(options, vectors), on_stage=on_stage)
    clusters: dict[str, int] = {}
    for sample_id, outcome in result.outcomes.items():
        label = outcome.scores.pop("cluster", None)  # a label, not a score: reported on its own
        if label is not None:
            clusters[sample_id] = int(label)
    return result, clusters
