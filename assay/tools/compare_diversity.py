"""Diversity of one dataset: distinct-n, self-BLEU, mean pairwise cosine, cluster entropy.

distinct-n and self-BLEU depend on how many texts they see, so callers compare two sets on
samples of the same size. Self-BLEU (Zhu et al. 2018, Texygen) scores each sampled text as a
hypothesis against every other sampled text as references: high means the texts repeat each
other. It is BLEU-4 with uniform weights, clipped counts over all references, the closest
reference length for the brevity penalty, and epsilon smoothing (Chen & Cherry 2014's method 1)
so a text sharing no 4-gram scores low instead of 0. Written here: nltk is not a dependency.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from assay.tools.coverage import distribution_entropy

TOKEN = re.compile(r"\w+|[^\w\s]")
SMOOTHING = 0.1  # epsilon added to a zero n-gram match count (method 1)


def tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, the unit of distinct-n and BLEU."""
    return TOKEN.findall(text.lower())


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of a token list, in order."""
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the texts (0 when there is none)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = ngrams(tokens(text), n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Mean BLEU of each text against all the others as references (needs two texts or more)."""
    if len(texts) < 2:
        raise ValueError("self-BLEU needs at least two texts")
    token_lists = [tokens(t) for t in texts]
    counts = [[Counter(ngrams(words, n)) for n in range(1, max_n + 1)] for words in token_lists]
    # For each n-gram, its largest count in any text and the runner-up, so "the largest count
    # among the other texts" is one lookup per n-gram instead of a pass over every reference.
    best: list[dict[tuple[str, ...], tuple[int, int, int]]] = [{} for _ in range(max_n)]
    for owner, per_n in enumerate(counts):
        for level, counter in enumerate(per_n):
            table = best[level]
            for gram, c in counter.items():
                top, top_owner, second = table.get(gram, (0, -1, 0))
                if c > top:
                    table[gram] = (c, owner, top)
                elif c > second:
                    table[gram] = (top, top_owner, c)
    lengths = np.array([len(w) for w in token_lists])
    scores = [_bleu(i, counts[i], best, lengths) for i in range(len(texts))]
    return float(np.mean(scores))


def _bleu(index: int, counts: list[Counter], best: list[dict], lengths: np.ndarray) -> float:
    length = int(lengths[index])
    if length == 0:
        return 0.0
    log_precision = 0.0
    for level, counter in enumerate(counts):
        total = sum(counter.values())
        if total == 0:  # shorter than n: this order contributes the smoothed zero
            log_precision += math.log(SMOOTHING / 1)
            continue
        matched = 0
        for gram, c in counter.items():
            top, owner, second = best[level][gram]
            matched += min(c, second if owner == index else top)
        log_precision += math.log((matched or SMOOTHING) / total)
    others = np.delete(lengths, index)
    closest = int(others[np.lexsort((others, np.abs(others - length)))[0]])  # ties: the shorter one
    brevity = 1.0 if length > closest else math.exp(1 - closest / length)
    return brevity * math.exp(log_precision / len(counts))


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over all pairs of distinct rows, exactly, in O(n·d): (‖Σv‖² − n) / (n(n − 1)) on unit rows."""
    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        raise ValueError("pairwise cosine needs at least two vectors")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = v / np.where(norms > 0, norms, 1.0)
    total = unit.sum(0)
    self_terms = float((unit * unit).sum())  # n, less any zero rows
    return float((total @ total - self_terms) / (len(v) * (len(v) - 1)))


def cluster_entropy(labels: Sequence[int] | np.ndarray, k: int) -> float:
    """Entropy of the cluster shares ÷ log k: 1.0 spreads evenly over all k clusters, 0 sits in one."""
    return distribution_entropy(labels, k).normalised
