"""Screen samples with the LLM-free tools, in stages, embeddings computed once: the run's pool
(screen/pool.py) and `assay score` files (screen/files.py).

Stage order: heuristics, code checks, decontamination, dedup, IFD, then clusters and novelty. Cheap
filters run first so the expensive ones only see survivors; embeddings are computed once
(by the session's store when there is one) and shared by semantic dedup, embedding
decontamination and clustering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assay.core.errors import ConfigError
from assay.core.records import Sample
from assay.core.recipe_screen import CodeSettings, DecontamSettings, HeuristicSettings, ScreenSettings
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
    screen: ScreenSettings = field(default_factory=ScreenSettings)  # the recipe's [screen] thresholds and switches
    plugins: tuple[Stage, ...] = ()  # filter and scorer plugins (pipeline/plugins.py), after the built-ins


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
    heuristics = heuristic_screen(options.screen.heuristics) if options.heuristics else None
    if heuristics is not None:
        stages.append(Stage("heuristics", heuristics))
    code = code_screen(options.screen.code) if options.heuristics else None
    if code is not None:
        stages.append(Stage("code", code))
    if options.decontam:
        from assay.tools.decontam import Decontaminator

        stages.append(Stage("decontam", Decontaminator(list(options.decontam), embedder=vectors,
                                                       **decontam_options(options.screen.decontam, vectors))))
    if options.dedup:
        from assay.tools.dedup import Dedup

        if "semantic" in options.dedup and vectors is None:
            raise ValueError("semantic dedup needs embeddings; drop --no-embed or the semantic method")
        stages.append(Stage("dedup", Dedup(options.dedup, embedder=vectors, seed=options.seed,
                                           **dedup_options(options.screen))))
    if options.ifd:
        from assay.tools.ifd import IFDScorer

        stages.append(Stage("ifd", IFDScorer(model=options.ifd_model) if options.ifd_model else IFDScorer()))
    stages.extend(options.plugins)
    if vectors is not None:
        stages.append(Stage("clusters", _cluster_stage(vectors, options)))
    return stages


# Recipe key [screen.heuristics.<filter>] <key> -> the HeuristicConfig field it sets.
HEURISTIC_FIELDS = {
    ("repetition", "min_ngrams"): "repetition_min_ngrams",
    ("repetition", "max_ratio"): "repetition_max_ratio",
    ("repetition", "max_sentence_repeats"): "repetition_max_sentence_repeats",
    ("repetition", "sentence_share"): "repetition_sentence_share",
    ("truncated", "min_words"): "truncated_min_words",
    ("wrong_language", "min_instruction_words"): "language_min_instruction_words",
    ("wrong_language", "min_response_words"): "language_min_response_words",
    ("wrong_language", "min_probability"): "language_min_probability",
    ("wrong_language", "max_capitalised_share"): "language_max_capitalised_share",
    ("wrong_language", "seed"): "language_seed",
    ("wrong_language", "english_share_floor"): "english_share_floor",
    ("length_outlier", "long_form_min_words"): "long_form_min_words",
    ("length_outlier", "max_response_words"): "max_response_words",
    ("length_outlier", "max_response_chars"): "max_response_chars",
}


def heuristic_screen(settings: HeuristicSettings) -> Any:
    """The HeuristicScreen the recipe asks for (its filters switched on, its thresholds), or None if all are off."""
    from assay.tools.heuristics import HeuristicConfig, HeuristicScreen

    enabled = settings.enabled()
    if not enabled:
        return None
    values = {name: getattr(getattr(settings, check), key) for (check, key), name in HEURISTIC_FIELDS.items()}
    return HeuristicScreen(HeuristicConfig(**values), only=enabled)


def code_screen(settings: CodeSettings) -> Any:
    """The CodeScreen the recipe's [screen.code] asks for, or None when it is switched off."""
    from assay.tools.code_screen import CodeConfig, CodeScreen

    if not settings.enabled:
        return None
    return CodeScreen(CodeConfig(languages=frozenset(settings.languages), execute=settings.execute,
                                 timeout=settings.timeout, memory_mb=settings.memory))


def dedup_options(screen: ScreenSettings) -> dict[str, Any]:
    """The keyword arguments of `assay.tools.dedup.dedup` that the recipe's [screen.minhash] and [screen.semantic] set."""
    from assay.tools.dedup import EditedCopyRule
    from assay.tools.dedup_task import SemanticTaskRule, TaskRule

    minhash, semantic = screen.minhash, screen.semantic
    edited = (EditedCopyRule(edited_floor=minhash.edited_floor, edited_ratio=minhash.edited_ratio,
                             min_words_in_order=minhash.min_words_in_order) if minhash.edited_copies else None)
    task = (TaskRule(instruction_threshold=minhash.instruction_threshold, instruction_floor=minhash.instruction_floor,
                     response_threshold=minhash.response_threshold, context_words=minhash.context_words)
            if minhash.same_task else None)
    semantic_task = (SemanticTaskRule(instruction_threshold=semantic.instruction_threshold,
                                      instruction_floor=semantic.instruction_floor,
                                      response_threshold=semantic.response_threshold,
                                      context_words=semantic.context_words) if semantic.same_task else None)
    return {"minhash_threshold": minhash.threshold, "num_perm": minhash.permutations,
            "shingle_size": minhash.shingle_size, "bands": minhash.bands, "edited": edited, "task": task,
            "semantic_threshold": semantic.threshold, "neighbours": semantic.neighbours, "semantic_task": semantic_task}


def decontam_options(settings: DecontamSettings, vectors: Any) -> dict[str, Any]:
    """The Decontaminator's keyword arguments that the recipe's [screen.decontam] sets."""
    if not settings.ngram and vectors is None:
        raise ConfigError("screen.decontam.ngram = 0 turns the n-gram method off, and without embeddings (--no-embed) "
                          "there is no other: set an n-gram size or drop --no-embed")
    return {"ngram": settings.ngram or None, "min_shared": settings.min_shared, "min_coverage": settings.min_coverage,
            "min_item_tokens": settings.min_item_tokens, "cosine_threshold": settings.cosine_threshold,
            "embed_side": settings.embed_side}


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
