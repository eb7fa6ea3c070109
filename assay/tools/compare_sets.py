"""Compare two measured datasets, from marginals to dependencies to the embedding distribution.

The layers follow the survey's order for synthetic-data evaluation: marginal distributions
(lengths, turns, language, cluster shares, judge scores), pairwise dependencies (instruction
vs response length, score vs length), the joint distribution of sentence embeddings (MMD with
a permutation p-value, Fréchet distance, k-NN precision and recall), then each set's own
diversity and B's novelty against A. A is the reference ("real", the seeds), B the candidate
("synthetic"). The result is plain data (`as_json` ready); every random choice is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.tools.compare_dependencies import compare_dependency
from assay.tools.compare_diversity import cluster_entropy, distinct_n, mean_pairwise_cosine, self_bleu
from assay.tools.compare_embeddings import frechet_distance, mmd_test, novelty, precision_recall
from assay.tools.compare_features import SetFeatures
from assay.tools.compare_marginals import compare_categorical, compare_numeric
from assay.tools.coverage import cluster_pool, default_cluster_count

P_DIFFER = 0.05  # the MMD p-value below which the sets are said to differ


@dataclass(frozen=True)
class CompareSettings:
    """The knobs of a comparison; `seed` drives every permutation, subsample and clustering."""

    seed: int = 0
    permutations: int = 200
    k: int = 5  # neighbours for the k-NN manifolds
    clusters: int | None = None  # k-means clusters over both sets (None: about sqrt(N/2))
    bleu_sample: int = 200  # texts per set in self-BLEU
    # MMD and k-NN hold an (m+n)² kernel: 2,000 a set is 128 MB; all of a 50k pool would be 80 GB
    kernel_samples: int = 2000


def compare_sets(a: SetFeatures, b: SetFeatures, settings: CompareSettings = CompareSettings()) -> dict[str, Any]:
    """Every measure of A against B, as plain data."""
    if a.n < 2 or b.n < 2:
        raise ValueError(f"comparing needs at least two samples per set ({a.label}: {a.n}, {b.label}: {b.n})")
    rng = np.random.default_rng(settings.seed)
    labels_a, labels_b, k = _clusters(a, b, settings)
    marginals = [
        compare_numeric("tokens", a.tokens, b.tokens),
        compare_numeric("words", a.words, b.words),
        compare_numeric("instruction words", a.instruction_words, b.instruction_words),
        compare_numeric("response words", a.response_words, b.response_words),
        compare_numeric("turns", a.turns, b.turns),
        compare_categorical("language", a.languages, b.languages),
        compare_categorical("cluster", [f"c{c}" for c in labels_a], [f"c{c}" for c in labels_b]),
    ]
    dependencies = [compare_dependency("instruction words → response words", a.instruction_words, a.response_words,
                                       b.instruction_words, b.response_words)]
    judged_a, judged_b = _judged(a), _judged(b)
    judge: dict[str, Any] = {"judged_a": len(judged_a[0]), "judged_b": len(judged_b[0])}
    if len(judged_a[0]) >= 2 and len(judged_b[0]) >= 2:
        judge["scores"] = compare_numeric("judge score", judged_a[0], judged_b[0], bins=8).as_dict()
        dependencies.append(compare_dependency("response words → judge score", judged_a[1], judged_a[0],
                                               judged_b[1], judged_b[0]))
    # Features are a seeded hash-order subsample, so their first rows are one too.
    kernel_a, kernel_b = a.vectors[:settings.kernel_samples], b.vectors[:settings.kernel_samples]
    mmd = mmd_test(kernel_a, kernel_b, rng, settings.permutations)
    precision, recall = precision_recall(kernel_a, kernel_b, settings.k)
    size = min(a.n, b.n)  # distinct-n grows with fewer texts: both sets are counted on the same number
    return {
        "a": {"label": a.label, "n": a.n, "total": a.total},
        "b": {"label": b.label, "n": b.n, "total": b.total},
        "marginals": [m.as_dict() for m in marginals],
        "dependencies": [d.as_dict() for d in dependencies],
        "embedding": {"mmd2": mmd.mmd2, "mmd_p_value": mmd.p_value, "bandwidth": mmd.bandwidth,
                      "permutations": mmd.permutations, "frechet": frechet_distance(a.vectors, b.vectors),
                      "precision": precision, "recall": recall, "k": settings.k,
                      "kernel_n": [len(kernel_a), len(kernel_b)]},
        "diversity": {"a": _diversity(a, labels_a, k, size, settings), "b": _diversity(b, labels_b, k, size, settings)},
        "novelty": novelty(b.vectors, a.vectors),
        "judge": judge,
        "settings": {"seed": settings.seed, "permutations": settings.permutations, "k": settings.k, "clusters": k,
                     "bleu_sample": settings.bleu_sample},
    }


def _clusters(a: SetFeatures, b: SetFeatures, settings: CompareSettings) -> tuple[np.ndarray, np.ndarray, int]:
    """One k-means over both sets (so their cluster shares are comparable), split back into A's and B's labels."""
    pooled = np.concatenate([a.vectors, b.vectors])
    k = settings.clusters or default_cluster_count(len(pooled))
    clustering = cluster_pool(pooled, k, seed=settings.seed, threads=1)
    return clustering.labels[:a.n], clustering.labels[a.n:], clustering.k


def _judged(features: SetFeatures) -> tuple[list[float], list[float]]:
    """The judge scores that exist, and the response lengths of the same samples."""
    pairs = [(s, w) for s, w in zip(features.scores, features.response_words, strict=True) if s is not None]
    return [s for s, _ in pairs], [float(w) for _, w in pairs]


def _diversity(features: SetFeatures, labels: np.ndarray, k: int, size: int, settings: CompareSettings) -> dict[str, float]:
    """One set's diversity, on its first `size` texts (features are already a seeded subsample, in hash order)."""
    texts = features.texts[:size]
    return {
        "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2), "distinct_3": distinct_n(texts, 3),
        "self_bleu": self_bleu(texts[:settings.bleu_sample]),
        "mean_pairwise_cosine": mean_pairwise_cosine(features.vectors[:size]),
        "cluster_entropy": cluster_entropy(labels, k),
    }


def verdict(result: dict[str, Any]) -> str:
    """One sentence on the embedding test: do the sets differ, at this size?"""
    emb = result["embedding"]
    p = emb["mmd_p_value"]
    if p < P_DIFFER:
        return (f"The sets differ: MMD p = {p:.3f} < {P_DIFFER} ({emb['permutations']} random splits of the pooled "
                f"samples).")
    return f"No difference found: MMD p = {p:.3f} ≥ {P_DIFFER} at {result['a']['n']:,} vs {result['b']['n']:,} samples."
