"""What the comparison measures about each sample: lengths, turns, language, judge score, texts.

Built from Samples plus two things the caller supplies (tools stay model-free): a token
counter (the embedding model's tokenizer) and the samples' embeddings. Subsamples are
chosen by a seeded hash of each sample's content, not by position, so the same set in any
order yields the same subsample, and the same seed always yields the same one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assay.core.records import Sample
from assay.tools.heuristics_text import ENGLISH_COMMON, words

MIN_WORDS_FOR_LANGUAGE = 4
ENGLISH_SHARE = 0.25  # share of common English words above which a text is English without the detector


@dataclass(frozen=True)
class SetFeatures:
    """One dataset, measured: one entry per sample in every list, and one embedding row per sample."""

    label: str
    instructions: list[str]
    responses: list[str]
    texts: list[str]
    tokens: list[int]
    words: list[int]
    instruction_words: list[int]
    response_words: list[int]
    turns: list[int]
    languages: list[str]
    scores: list[float | None]
    vectors: np.ndarray
    total: int  # samples in the dataset before any subsample

    @property
    def n(self) -> int:
        """Samples measured."""
        return len(self.texts)


def hash_sample(items: Sequence[Sample], size: int | None, seed: int) -> list[Sample]:
    """At most `size` samples in the order of a seeded hash of their ids: the same samples, in the same
    order, whatever the input order, so any prefix of the result is itself an order-free subsample."""
    def rank(sample: Sample) -> bytes:
        return hashlib.sha256(f"{seed}\0{sample.id}".encode()).digest()

    return sorted(items, key=rank)[:size]


def language(text: str, guess: Callable[[str], tuple[str, float] | None]) -> str:
    """The text's language code: "en" by common-word share, else `guess`'s answer, "unknown" with no signal."""
    tokens = words(text)
    if len(tokens) < MIN_WORDS_FOR_LANGUAGE:
        return "unknown"
    if sum(t in ENGLISH_COMMON for t in tokens) / len(tokens) >= ENGLISH_SHARE:
        return "en"
    found = guess(text)
    return found[0] if found is not None else "unknown"


def measure(label: str, samples: Sequence[Sample], vectors: np.ndarray, *, count_tokens: Callable[[list[str]], list[int]],
            guess_language: Callable[[str], tuple[str, float] | None], total: int | None = None) -> SetFeatures:
    """Measure `samples` (their embeddings in `vectors`, same order) for the comparison."""
    if len(vectors) != len(samples):
        raise ValueError(f"{label}: {len(vectors)} embeddings for {len(samples)} samples")
    texts = [s.text() for s in samples]
    scores = [s.scores.get("judge_overall") for s in samples]
    return SetFeatures(
        label=label, instructions=[s.instruction for s in samples], responses=[s.response for s in samples],
        texts=texts, tokens=count_tokens(texts), words=[len(words(t)) for t in texts],
        instruction_words=[len(words(s.instruction)) for s in samples],
        response_words=[len(words(s.response)) for s in samples],
        turns=[sum(m.role == "user" for m in s.messages) for s in samples],
        languages=[language(t, guess_language) for t in texts],
        scores=[float(v) if v is not None else None for v in scores],
        vectors=np.asarray(vectors, dtype=np.float32), total=total if total is not None else len(samples))
