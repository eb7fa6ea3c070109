"""Synthetic responses for bias-cue detection tests: filler words, an optional planted phrase, fixed lengths.

Each response has exactly one of five word counts (so the length quintiles are exactly those
levels) and one of four clusters. A planted phrase goes in as a whole opener or mid-sentence.
Filler words come from a 400-word vocabulary drawn at random, so no filler n-gram is common
enough to be a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOCAB = [f"w{i}" for i in range(400)]
LEVELS = (20, 40, 60, 80, 100)


@dataclass
class Synth:
    """Texts with their outcome, cluster, length level and whether the phrase was planted."""

    texts: list[str]
    outcome: np.ndarray
    clusters: np.ndarray
    levels: np.ndarray
    planted: np.ndarray


def response(rng: np.random.Generator, words: int, phrase: str = "", opener: bool = True) -> str:
    """`words` words in all: the phrase (as the opener, or at a random place) and filler."""
    planted = phrase.split()
    filler = list(rng.choice(VOCAB, size=words - len(planted)))
    if not planted:
        return " ".join(filler) + "."
    at = 0 if opener else int(rng.integers(1, len(filler)))
    return " ".join(filler[:at] + planted + filler[at:]) + "."


def make(n: int, seed: int, phrase: str, *, p_phrase, outcome, opener: bool = True) -> Synth:
    """n responses; `p_phrase(cluster, level)` is the chance of the phrase, `outcome(rng, cluster, level, planted)`
    the outcome."""
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, 4, size=n)
    levels = rng.integers(0, len(LEVELS), size=n)
    planted = np.array([rng.random() < p_phrase(c, lv) for c, lv in zip(clusters, levels)])
    texts = [response(rng, LEVELS[lv], phrase if k else "", opener) for lv, k in zip(levels, planted)]
    y = np.array([outcome(rng, c, lv, k) for c, lv, k in zip(clusters, levels, planted)], dtype=float)
    return Synth(texts, y, clusters, levels, planted)


def naive_difference(x: np.ndarray, y: np.ndarray) -> float:
    """Mean outcome with minus without, no strata: what an uncontrolled look would see."""
    return float(y[x].mean() - y[~x].mean())
