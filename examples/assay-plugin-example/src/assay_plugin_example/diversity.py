"""A scorer plugin: the share of distinct words in the response (a type-token ratio)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assay.core.records import Sample

WORD = re.compile(r"\w+")


class LexicalDiversity:
    """Constructed with `[plugins.settings.lexical_diversity]`: `min_words`, below which the score is 0."""

    def __init__(self, min_words: int = 1) -> None:
        self.min_words = min_words

    def __call__(self, batch: Sequence[Sample]) -> list[dict[str, float]]:
        """One score per sample: `lexical_diversity`, distinct words / words in the response (0 to 1)."""
        scores = []
        for sample in batch:
            words = [w.lower() for w in WORD.findall(sample.response)]
            ratio = len(set(words)) / len(words) if len(words) >= self.min_words and words else 0.0
            scores.append({"lexical_diversity": ratio})
        return scores
