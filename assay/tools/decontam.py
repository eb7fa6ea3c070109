"""Decontamination: drop samples that leak benchmark test items, by n-gram overlap and by embeddings.

N-grams catch copies, however their whitespace, casing or punctuation was changed, and
copies with a few words edited: words are compared after NFKD, accent stripping, case
folding and punctuation removal, and a sample is contaminated when it shares at least
`min_shared` 13-grams with an item (the GPT-3 and DataTrove rule), optionally also
covering `min_coverage` of the item's distinct 13-grams. An item shorter than 13 words is
matched on its whole word sequence instead, down to `min_item_tokens` words (GPT-3's
smallest n, 8): shorter sequences such as "what is the capital of france" occur in
ordinary samples too often to mean a leak.

Embeddings catch what n-grams miss: paraphrases and reorderings that share no 13 words in
a row. The cosine between a sample's user turns (the responses of a leaked item are
rarely worded like its question) and each item is compared with `cosine_threshold`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from assay.core.records import Sample
from assay.core.assessment import Assessment, drop
from assay.tools.benchmarks import Benchmark, load_benchmark

_WORD = re.compile(r"\w+")
_SIMILARITY_ROWS = 1024  # sample rows per matrix product, to bound memory on large benchmarks
EmbedSide = Literal["instruction", "text"]


class TextEncoder(Protocol):
    """What the embedding method needs: unit-length vectors for texts (assay.session.embeddings.Embedder)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def word_tokens(text: str) -> list[str]:
    """Words as decontamination compares them: accents stripped, case folded, punctuation dropped."""
    if not text.isascii():  # most samples are ASCII: skip the slow per-character pass for them
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(text.casefold())


def user_turns(sample: Sample) -> str:
    """A sample's user turns, joined: what the embedding method compares by default."""
    return "\n\n".join(m.content for m in sample.messages if m.role == "user")


def _gram_keys(tokens: Sequence[str], n: int) -> set[int]:
    # Python's hash is salted per process, but the index and the queries live in one process.
    return {hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}


class NgramIndex:
    """Hashed word n-grams of every benchmark item, mapped to the items that hold them."""

    def __init__(self, texts: Sequence[str], *, n: int = 13, min_item_tokens: int = 8) -> None:
        self.n = n
        self.postings: dict[int, list[int]] = {}
        self.gram_counts = [0] * len(texts)  # distinct grams per item: the coverage denominator
        self.short_lengths: set[int] = set()  # lengths of items matched whole (shorter than n)
        for position, text in enumerate(texts):
            tokens = word_tokens(text)
            if len(tokens) < min(n, min_item_tokens):
                continue
            length = min(n, len(tokens))
            if length < n:
                self.short_lengths.add(length)
            keys = _gram_keys(tokens, length)
            self.gram_counts[position] = len(keys)
            for key in keys:
                self.postings.setdefault(key, []).append(position)

    def shared(self, text: str) -> Counter[int]:
        """Item position -> how many of that item's distinct n-grams the text contains."""
        tokens = word_tokens(text)
        keys = _gram_keys(tokens, self.n)
        for length in self.short_lengths:
            keys |= _gram_keys(tokens, length)
        counts: Counter[int] = Counter()
        for key in keys:
            counts.update(self.postings.get(key, ()))
        return counts


@dataclass
class _NgramHit:
    position: int = -1  # the matched item, -1 when none qualifies
    shared: int = 0
    coverage: float = 0.0
    top_coverage: float = 0.0  # over all items, qualifying or not: the reported score


@dataclass(frozen=True)
class _Item:
    benchmark: str
    id: str
    text: str


class Decontaminator:
    """Drops samples that contain or paraphrase an item of the named benchmarks.

    `ngram=None` turns the n-gram method off, `embedder=None` the embedding method; the
    reason code of a drop is `contaminated:<benchmark>:<item id>`, from the n-gram match
    when both methods fire. Scores on every sample: `contamination_overlap` (best fraction
    of an item's n-grams found in the sample) and, with an embedder, `contamination_cosine`.
    """

    name = "decontam"

    def __init__(self, benchmarks: Sequence[str | Path | Benchmark], *, embedder: TextEncoder | None = None,
                 ngram: int | None = 13, min_shared: int = 1, min_coverage: float = 0.0, min_item_tokens: int = 8,
                 cosine_threshold: float = 0.9, embed_side: EmbedSide = "instruction",
                 item_vectors: np.ndarray | None = None) -> None:
        if ngram is None and embedder is None and item_vectors is None:
            raise ValueError("decontamination needs a method: an n-gram size, an embedder, or both")
        loaded = [b if isinstance(b, Benchmark) else load_benchmark(b) for b in benchmarks]
        self.items = [_Item(b.name, item.id, item.text) for b in loaded for item in b.items]
        if not self.items:
            raise ValueError("no benchmark items to decontaminate against")
        self.min_shared = min_shared
        self.min_coverage = min_coverage
        self.cosine_threshold = cosine_threshold
        self.embed_side = embed_side
        self.embedder = embedder
        self.index = NgramIndex([i.text for i in self.items], n=ngram, min_item_tokens=min_item_tokens) if ngram else None
        if item_vectors is not None and len(item_vectors) != len(self.items):
            raise ValueError(f"{len(item_vectors)} item vectors for {len(self.items)} benchmark items")
        self._item_vectors = item_vectors

    @property
    def uses_embeddings(self) -> bool:
        """Whether the embedding method is on."""
        return self.embedder is not None or self._item_vectors is not None

    def item_vectors(self) -> np.ndarray:
        """Unit vectors of the benchmark items, encoded once on first use."""
        if self._item_vectors is None:
            if self.embedder is None:
                raise ValueError("no embedder to encode the benchmark items")
            self._item_vectors = np.asarray(self.embedder.encode([i.text for i in self.items]), dtype=np.float32)
        return self._item_vectors

    def embed_text(self, sample: Sample) -> str:
        """The part of a sample compared by embeddings: its user turns, or its whole text."""
        if self.embed_side == "text":
            return sample.text()
        return user_turns(sample)

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """One Assessment per sample, encoding the samples when the embedding method is on."""
        vectors = None
        if self.uses_embeddings and batch:
            if self.embedder is None:
                raise ValueError("item vectors were given but no embedder for the samples: use assess(batch, vectors)")
            vectors = self.embedder.encode([self.embed_text(s) for s in batch])
        return self.assess(batch, vectors)

    def assess(self, batch: Sequence[Sample], vectors: np.ndarray | None = None) -> list[Assessment]:
        """One Assessment per sample; `vectors` are the samples' embed_text vectors, when precomputed."""
        ngram_hits: list[_NgramHit | None] = [self._ngram_match(s) for s in batch] if self.index else [None] * len(batch)
        cosine_hits: list[tuple[int, float] | None] = [None] * len(batch)
        if self.uses_embeddings and batch:
            if vectors is None:
                raise ValueError("the embedding method needs the samples' vectors")
            cosine_hits = list(self._nearest_items(np.asarray(vectors, dtype=np.float32)))
        return [self._verdict(n, c) for n, c in zip(ngram_hits, cosine_hits, strict=True)]

    def _ngram_match(self, sample: Sample) -> _NgramHit:
        """The best qualifying item (most of its n-grams covered, ties to the earliest item)."""
        assert self.index is not None
        hit = _NgramHit()
        for position, shared in self.index.shared(sample.text()).items():
            coverage = shared / self.index.gram_counts[position]
            hit.top_coverage = max(hit.top_coverage, coverage)
            if shared < self.min_shared or coverage < self.min_coverage:
                continue
            if hit.position < 0 or (coverage, -position) > (hit.coverage, -hit.position):
                hit.position, hit.shared, hit.coverage = position, shared, coverage
        return hit

    def _nearest_items(self, vectors: np.ndarray) -> list[tuple[int, float]]:
        # Products in float64, rounded to float32: BLAS rounds a float32 product's last bit differently for other
        # numbers of rows (one row goes to gemv, small blocks to other kernels), and a sample's cosines must not
        # depend on how many samples it was screened with (the streamed screen's batches against the whole pool).
        items = np.asarray(self.item_vectors(), dtype=np.float64)
        nearest: list[tuple[int, float]] = []
        for start in range(0, len(vectors), _SIMILARITY_ROWS):
            rows = np.asarray(vectors[start : start + _SIMILARITY_ROWS], dtype=np.float64)
            similarity = (rows @ items.T).astype(np.float32)
            best = similarity.argmax(axis=1)
            nearest.extend((int(i), float(similarity[row, i])) for row, i in enumerate(best))
        return nearest

    def _verdict(self, ngram: _NgramHit | None, cosine: tuple[int, float] | None) -> Assessment:
        scores: dict[str, float] = {}
        if ngram is not None:
            scores["contamination_overlap"] = round(ngram.top_coverage, 4)
        if cosine is not None:
            scores["contamination_cosine"] = round(cosine[1], 4)
        if ngram is not None and ngram.position >= 0:
            assert self.index is not None
            detail = (f"{self.index.n}-gram overlap {ngram.coverage:.2f} ({ngram.shared} of "
                      f"{self.index.gram_counts[ngram.position]} item n-grams)")
            return drop(self._reason(ngram.position), detail, **scores)
        if cosine is not None and cosine[1] >= self.cosine_threshold:
            return drop(self._reason(cosine[0]), f"embedding cosine {cosine[1]:.2f}", **scores)
        return Assessment(scores=scores)

    def _reason(self, position: int) -> str:
        item = self.items[position]
        return f"contaminated:{item.benchmark}:{item.id}"
