"""What a dry run will cost, said before it starts: the embedding work left after the shared cache.

A dry run makes no paid LLM calls (the placeholder model answers at once), so its time goes
on embedding: every sample's text for the store and the clusters, and, with decontamination,
every benchmark item and each sample's user turns. Texts already in the embedding cache cost
nothing; the rest run at the rate last measured on this machine (kept in the cache), else at
the 2-core CPU figure (`CPU_TEXTS_PER_SECOND`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.core.config import Config
from assay.core.records import Sample


@dataclass(frozen=True)
class EmbeddingCost:
    """Texts a command will embed, how many of them the cache already holds, and the time the rest take."""

    texts: int  # distinct texts to embed
    cached: int  # of which the embedding cache holds a vector
    rate: float  # texts per second for the rest: last measured here, else the 2-core CPU figure
    measured: bool
    cache_on: bool

    @property
    def to_embed(self) -> int:
        """Texts the model must encode."""
        return self.texts - self.cached

    @property
    def seconds(self) -> float:
        """Estimated embedding time at `rate`."""
        return self.to_embed / self.rate

    def lines(self) -> list[str]:
        """What the dry run costs, in words, for the CLI to show before it starts."""
        cache = f"{self.cached:,} already in the embedding cache" if self.cache_on else "the embedding cache is off"
        source = "as last measured on this machine" if self.measured else "on 2 CPU cores; a GPU is faster"
        estimate = (f"about {_duration(self.seconds)} at ~{self.rate:.0f} texts/s ({source})"
                    if self.to_embed else "no embedding work")
        where = "The time goes on embedding" if self.to_embed else "Nothing is left to embed"
        return [f"dry run: {self.texts:,} texts to embed, {cache}: {self.to_embed:,} left, {estimate}.",
                f"{where}; no LLM calls are made (the placeholder model answers instantly), "
                "and the screening tools take seconds."]


def embedding_cost(samples: Sequence[Sample], benchmarks: Sequence[Path], config: Config,
                   env: Mapping[str, str]) -> EmbeddingCost:
    """The embedding work of a run over `samples` (decontaminated against `benchmarks`), after the cache."""
    from assay.session.embeddings import embedder_for
    from assay.tools.benchmarks import load_benchmark
    from assay.tools.decontam import user_turns

    texts = [s.text() for s in samples]
    if benchmarks:
        texts += [item.text for path in benchmarks for item in load_benchmark(path).items]
        texts += [user_turns(s) for s in samples]  # embedding decontamination compares the user turns
    distinct = list(dict.fromkeys(texts))
    embedder = embedder_for(config.store, env)
    return EmbeddingCost(texts=len(distinct), cached=len(distinct) - embedder.uncached(distinct),
                         rate=embedder.rate(), measured=embedder.measured_rate() is not None,
                         cache_on=embedder.cache is not None)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
