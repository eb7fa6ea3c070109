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

Memory: the fingerprints (some 1.4 KB a sample on Alpaca-length texts) are loaded only for the
survivors that some bucket mate reaches the cut with, the only ones a check can reach, and held
in one flat array; most bucket mates are unrelated texts that one band joined by chance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions

LISTED = 16  # buckets of up to this many members have their pairs listed; the members of larger ones all count
_PAIR_CHUNK = 1 << 12  # pairs compared at a time: 4k × 128 values × 4 bytes × 2 = 4 MB of temporaries


def similar_links(parts: Parts, sizes: list[int], buckets: Sequence[np.ndarray], signatures: np.ndarray,
                  options: ScoreOptions, exact: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Links (first, second node arrays) that join each bucket's similar survivors, given the `exact` links.

    Nodes number the survivors batch after batch (`sizes` per batch); each bucket lists nodes ascending
    (a list of arrays, or tools/dedup_buckets.Buckets)."""
    from assay.pipeline.engine.dedup_features import proposal_cut, relevant_floor
    from assay.tools.dedup_buckets import Buckets
    from assay.tools.dedup_cluster import UnionFind
    from assay.tools.dedup_lsh import link_buckets
    from assay.tools.dedup_shingles import fingerprint_jaccard

    joined = UnionFind(sum(sizes))
    for a, b in zip(exact[0].tolist(), exact[1].tolist(), strict=True):
        joined.union(a, b)
    buckets = Buckets.of(buckets)
    cut, floor = proposal_cut(options), relevant_floor(options)
    needed = reachable(buckets, signatures, cut)
    shingles = Fingerprints(parts, sizes, needed)

    def unproposed(a: int, b: int) -> bool:
        return bool((signatures[a] == signatures[b]).mean() < cut)

    def similar(a: int, b: int) -> bool:
        return fingerprint_jaccard(shingles[a], shingles[b]) >= floor

    links = link_buckets(buckets.distinct(), joined, similar, reject=unproposed)
    first = np.array([a for a, _ in links], dtype=np.int64)
    second = np.array([b for _, b in links], dtype=np.int64)
    return first, second


def reachable(buckets: Sequence[np.ndarray], signatures: np.ndarray, cut: float) -> np.ndarray:
    """The nodes (ascending) in some bucket pair whose share of equal signature values reaches `cut`, and
    every member of a bucket larger than LISTED: a superset of those whose fingerprints a check reads."""
    from assay.tools.dedup_buckets import Buckets, bucket_pairs

    first, second, large = bucket_pairs(Buckets.of(buckets), LISTED)
    found = [large]
    for start in range(0, len(first), _PAIR_CHUNK):
        a, b = first[start:start + _PAIR_CHUNK], second[start:start + _PAIR_CHUNK]
        close = (signatures[a] == signatures[b]).mean(axis=1) >= cut
        found += [a[close], b[close]]
    return np.unique(np.concatenate(found).astype(np.int64))


class Fingerprints:
    """The shingle fingerprints of some survivors, read batch by batch, a chunk of rows at a time: each chunk's
    values in one array (copied out of Arrow, so the chunk is freed), found through three int arrays."""

    def __init__(self, parts: Parts, sizes: list[int], needed: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

        self.needed = needed  # the nodes held, ascending
        self.values: list[np.ndarray] = []
        holder: list[np.ndarray] = []  # per needed node: which of `values`, and its span there
        lengths: list[np.ndarray] = []
        offset = 0
        for index, size in enumerate(sizes):  # node numbers run over the survivors, batch after batch
            wanted = needed[(needed >= offset) & (needed < offset + size)] - offset
            for chunk in (parts.read_chunks(SCREEN_PART, index, columns=["keep", "shingles"]) if len(wanted) else ()):
                column = chunk.filter(pc.fill_null(chunk.column("keep"), False)).column("shingles")
                here = wanted[(wanted >= 0) & (wanted < len(column))]
                if len(here):
                    taken = column.take(pa.array(here, type=pa.int64()))
                    holder.append(np.full(len(here), len(self.values), dtype=np.int32))
                    lengths.append(taken.value_lengths().to_numpy().astype(np.int64))
                    self.values.append(taken.flatten().to_numpy().copy())
                wanted = wanted - len(column)  # the next chunk's survivors number from 0
            offset += size
        self.holder = np.concatenate(holder) if holder else np.zeros(0, dtype=np.int32)
        self.ends = np.concatenate([np.cumsum(n) for n in lengths]) if lengths else np.zeros(0, dtype=np.int64)
        self.starts = self.ends - (np.concatenate(lengths) if lengths else 0)

    def __len__(self) -> int:
        return len(self.needed)

    def __getitem__(self, node: int) -> np.ndarray:
        """The fingerprint of survivor `node` (one of those asked for)."""
        slot = int(np.searchsorted(self.needed, node))
        if slot == len(self.needed) or self.needed[slot] != node:  # cannot happen: `reachable` is a superset
            raise RuntimeError(f"no fingerprint loaded for survivor {node}")
        return self.values[self.holder[slot]][self.starts[slot]:self.ends[slot]]
