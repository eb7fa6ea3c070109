"""Semantic duplicates: pairs of samples whose embeddings are close (see dedup.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.core.records import Sample
from assay.tools.dedup_cluster import DuplicatePair


def semantic_pairs(vectors: np.ndarray, *, threshold: float = 0.95, block_size: int = 2048) -> list[DuplicatePair]:
    """Pairs of rows whose cosine similarity reaches `threshold`; rows must be unit vectors.

    Compares block against block over the upper triangle only, so memory stays at
    `block_size`² similarities whatever the number of rows.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    pairs = []
    for row_start in range(0, len(vectors), block_size):
        rows = vectors[row_start : row_start + block_size]
        for col_start in range(row_start, len(vectors), block_size):
            sims = rows @ vectors[col_start : col_start + block_size].T
            close = sims >= threshold
            if col_start == row_start:
                close = np.triu(close, k=1)  # the diagonal block holds each pair twice, and self-pairs
            for r, c in zip(*np.nonzero(close), strict=True):
                pairs.append(DuplicatePair(row_start + int(r), col_start + int(c), "semantic", float(sims[r, c])))
    return sorted(pairs, key=lambda p: (p.first, p.second))


def semantic_pairs_from_store(store: Any, samples: Sequence[Sample], *, threshold: float = 0.95,
                              neighbours: int = 10) -> list[DuplicatePair]:
    """Semantic pairs through the store's vector index: each sample's `neighbours` nearest.

    Scales to pools too large for block products (the index answers each query in about
    log time) at the price of missing duplicates beyond the nearest `neighbours` and of
    HNSW being approximate. Hits outside the batch are ignored. The samples must be stored.
    """
    positions: dict[str, list[int]] = {}
    for position, sample in enumerate(samples):
        positions.setdefault(sample.id, []).append(position)
    ids = list(positions)
    found: dict[tuple[int, int], float] = {}
    for start in range(0, len(ids), 512):
        part = ids[start : start + 512]
        for sample_id, vector in zip(part, store.vectors(part), strict=True):
            for hit in store.query(vector, neighbours + 1):
                similarity = 1.0 - hit.distance
                if hit.id == sample_id or hit.id not in positions or similarity < threshold:
                    continue
                a, b = sorted((positions[sample_id][0], positions[hit.id][0]))
                found[(a, b)] = max(found.get((a, b), -1.0), min(similarity, 1.0))
    # Repeated ids in one batch are the same content: pair each repeat with its first position.
    repeats = {(p[0], q): 1.0 for p in positions.values() for q in p[1:]}
    return [DuplicatePair(a, b, "semantic", s) for (a, b), s in sorted((found | repeats).items())]
