"""Synthetic pools with tags, label embeddings, clusters and vectors, for tests and benchmarks.

Built with numpy alone (no Python loop over samples), so a 1M-candidate pool takes seconds.
Tag popularity follows a Zipf law, as real skill tags do; labels come in small families of
near-synonyms whose embeddings sit at cosine ≈ 0.9 of each other, so the label graph at the
default threshold has real edges.
"""

from __future__ import annotations

import numpy as np

from assay.tools.selection.base import LabelSets, Pool


def synthetic_labels(n: int, n_labels: int, rng: np.random.Generator, *, max_tags: int = 5,
                     zipf: float = 1.1) -> LabelSets:
    """1..max_tags distinct labels per candidate, label k drawn with weight (k + 1)^−zipf."""
    weights = 1.0 / np.arange(1, n_labels + 1) ** zipf
    counts = rng.integers(1, max_tags + 1, size=n)
    rows = np.repeat(np.arange(n, dtype=np.int64), counts)
    labels = rng.choice(n_labels, size=len(rows), p=weights / weights.sum()).astype(np.int32)
    order = np.lexsort((labels, rows))
    rows, labels = rows[order], labels[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (labels[1:] != labels[:-1])
    rows, labels = rows[keep], labels[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return LabelSets(tuple(f"tag{k}" for k in range(n_labels)), indptr, labels)


def synthetic_label_vectors(n_labels: int, rng: np.random.Generator, *, dim: int = 64, family: int = 3,
                            spread: float = 0.33) -> np.ndarray:
    """Unit vectors in families of `family` labels around a shared direction (cos ≈ 0.9 within)."""
    centres = rng.standard_normal((-(-n_labels // family), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n_labels, dim)) * spread / np.sqrt(dim)
    vectors = centres[np.arange(n_labels) // family] + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def synthetic_vectors(n: int, rng: np.random.Generator, *, dim: int = 384, centres: int = 64,
                      spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Unit float32 vectors around `centres` random directions, and each one's centre (a cluster id)."""
    directions = rng.standard_normal((centres, dim)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    clusters = rng.integers(0, centres, size=n)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 65536):  # in blocks: the noise for 1M × 384 at once would double the peak
        block = slice(start, start + 65536)
        noise = rng.standard_normal((len(clusters[block]), dim), dtype=np.float32) * (spread / np.sqrt(dim))
        part = directions[clusters[block]] + noise
        vectors[block] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return vectors, clusters.astype(np.int64)


def synthetic_pool(n: int, *, n_labels: int = 200, seed: int = 0, vectors: bool = False, dim: int = 384) -> Pool:
    """A pool of n candidates: quality in [1, 5], tags, label vectors, clusters (and vectors if asked)."""
    rng = np.random.default_rng(seed)
    labels = synthetic_labels(n, n_labels, rng)
    label_vectors = synthetic_label_vectors(n_labels, rng)
    quality = np.round(rng.uniform(1.0, 5.0, size=n), 3)
    if vectors:
        sample_vectors, clusters = synthetic_vectors(n, rng, dim=dim)
    else:
        sample_vectors, clusters = None, rng.integers(0, 16, size=n).astype(np.int64)
    return Pool(size=n, quality=quality, clusters=clusters, labels=labels, vectors=sample_vectors,
                label_vectors=label_vectors)
