"""The links that form the global dedup's candidate groups: one function both engines call.

The local engine (dedup_groups.py) finds the LSH buckets by sorting the signature bands with
numpy; the Ray engine (ray_groups.py) by shuffling them over its cluster. Either way the
buckets are the same sets of survivors, and `similar_links` turns them into links: a pair is
linked when LSH proposes it (the share of equal signature values reaches the Dedup tool's cut)
and the exact Jaccard similarity of its shingle fingerprints reaches the lowest value that can
verify (`relevant_floor`), as the Dedup tool would compute it. The buckets are joined by
tools/dedup_lsh.link_buckets, so a bucket of k copies costs about k checks, not k(k-1)/2, and
pairs already joined (by exact keys, or through others) are not checked at all. The links are
not every similar pair, but their connected components are those of every similar pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions


def similar_links(parts: Parts, sizes: list[int], buckets: Sequence[np.ndarray], signatures: np.ndarray,
                  options: ScoreOptions, exact: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Links (first, second node arrays) that join each bucket's similar survivors, given the `exact` links.

    Nodes number the survivors batch after batch (`sizes` per batch); each bucket lists nodes ascending.
    Only the fingerprints of survivors in some bucket are loaded."""
    from assay.pipeline.engine.dedup_features import proposal_cut, relevant_floor
    from assay.tools.dedup_cluster import UnionFind
    from assay.tools.dedup_lsh import link_buckets
    from assay.tools.dedup_shingles import fingerprint_jaccard

    joined = UnionFind(sum(sizes))
    for a, b in zip(exact[0].tolist(), exact[1].tolist(), strict=True):
        joined.union(a, b)
    needed = np.unique(np.concatenate(list(buckets))) if len(buckets) else np.zeros(0, dtype=np.int64)
    shingles = _fingerprints(parts, sizes, needed)
    cut, floor = proposal_cut(options), relevant_floor(options)

    def similar(a: int, b: int) -> bool:
        return bool((signatures[a] == signatures[b]).mean() >= cut) and fingerprint_jaccard(shingles[a],
                                                                                             shingles[b]) >= floor

    links = link_buckets(buckets, joined, similar)
    first = np.array([a for a, _ in links], dtype=np.int64)
    second = np.array([b for _, b in links], dtype=np.int64)
    return first, second


def _fingerprints(parts: Parts, sizes: list[int], needed: np.ndarray) -> dict[int, np.ndarray]:
    """The shingle fingerprints of the `needed` nodes, read batch by batch."""
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    shingles: dict[int, np.ndarray] = {}
    offset = 0
    for index, size in enumerate(sizes):  # node numbers run over the survivors, batch after batch
        wanted = needed[(needed >= offset) & (needed < offset + size)]
        if len(wanted):
            table = parts.read_table(SCREEN_PART, index, columns=["keep", "shingles"])
            column = table.filter(table.column("keep").fill_null(False)).column("shingles").combine_chunks()
            for node in wanted.tolist():
                shingles[node] = column[node - offset].values.to_numpy()
        offset += size
    return shingles
