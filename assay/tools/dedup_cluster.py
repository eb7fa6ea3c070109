"""Duplicate pairs joined into clusters, and which sample of each cluster is kept (see dedup.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assay.core.assessment import KEEP, Assessment, drop
from assay.core.records import Sample

METHODS = ("exact", "minhash", "semantic")


@dataclass(frozen=True)
class DuplicatePair:
    """Two batch positions judged duplicates by one method (`first` < `second`)."""

    first: int
    second: int
    method: str
    similarity: float


@dataclass(frozen=True)
class DuplicateCluster:
    """A group of duplicates: the kept sample and the dropped ones, as batch positions and ids."""

    kept: int
    kept_id: str
    dropped: tuple[int, ...]
    dropped_ids: tuple[str, ...]
    methods: tuple[str, ...]  # the methods whose pairs formed this cluster


@dataclass(frozen=True)
class DedupResult:
    """One Assessment per input sample (same order), the clusters, and the pairs behind them."""

    assessments: list[Assessment]
    clusters: list[DuplicateCluster]
    pairs: list[DuplicatePair]


class UnionFind:
    """Disjoint sets of positions: which samples the pairs found so far already join."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, position: int) -> int:
        """The representative of `position`'s set (path halving keeps the trees flat)."""
        parent = self.parent
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    def union(self, first: int, second: int) -> None:
        """Join the sets of `first` and `second`."""
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def joined(self, first: int, second: int) -> bool:
        """Whether the two positions are in one set already."""
        return self.find(first) == self.find(second)


DirectPair = Callable[[int, int], "DuplicatePair | None"]


def cluster_duplicates(samples: Sequence[Sample], pairs: Sequence[DuplicatePair], score_key: str | None = None, *,
                       direct: DirectPair | None = None,
                       around: Callable[[int], list[DuplicatePair]] | None = None) -> DedupResult:
    """Join pairs into clusters and keep each cluster's best sample; the others are dropped.

    Each dropped sample is described by its own pair with the kept one when there is one,
    else by its strongest pair (via that partner). `direct(a, b)` answers whether two
    positions (a < b) are a pair when `pairs` need not hold every pair (dedup() skips
    verifying MinHash candidates that are already joined): it is asked once per dropped
    sample, so the work per cluster grows with its size, not with its pairs. A dropped
    sample with no pair to the kept one is then described by its strongest pair of all,
    which `around(position)` lists in full (its pairs in `pairs` alone may be a subset).
    """
    joined = UnionFind(len(samples))
    for pair in pairs:
        joined.union(pair.first, pair.second)
    members: dict[int, list[int]] = {}
    for position in range(len(samples)):
        members.setdefault(joined.find(position), []).append(position)

    def rank(position: int) -> tuple[float, int]:
        score = samples[position].scores.get(score_key) if score_key else None
        return (-score if score is not None and not math.isnan(score) else math.inf, position)

    strongest = _strongest_pair_per_position(pairs)
    listed = {(pair.first, pair.second): pair for pair in pairs}
    assessments: list[Assessment] = [KEEP] * len(samples)
    groups = [(root, group, min(group, key=rank)) for root, group in members.items() if len(group) > 1]
    for _, group, kept in groups:
        for position in group:
            if position == kept:
                continue
            own = direct(*sorted((position, kept))) if direct is not None else strongest.get((position, kept))
            if own is not None:
                listed[(own.first, own.second)] = own  # the pair by the first method that finds it
            if own is None and around is not None:
                own = _strongest_pair_per_position(around(position))[(position, None)]
                listed[(own.first, own.second)] = own
            pair = own or strongest[(position, None)]
            other = pair.second if pair.first == position else pair.first
            via = "" if other == kept else f" via {samples[other].id}"
            if samples[other].id == samples[position].id:
                via += " (a repeat of this very sample)"
            assessments[position] = drop(
                f"duplicate_of:{samples[kept].id}", f"{pair.method} similarity {pair.similarity:.2f}{via}",
                dup_similarity=pair.similarity, dup_cluster_size=float(len(group)),
            )
        assessments[kept] = Assessment(scores={"dup_cluster_size": float(len(group))})
    methods_of: dict[int, set[str]] = {}
    for pair in listed.values():
        methods_of.setdefault(joined.find(pair.first), set()).add(pair.method)
    clusters = []
    for root, group, kept in groups:
        dropped = tuple(p for p in group if p != kept)
        methods = tuple(sorted(methods_of[root], key=METHODS.index))
        dropped_ids = tuple(samples[p].id for p in dropped)
        clusters.append(DuplicateCluster(kept, samples[kept].id, dropped, dropped_ids, methods))
    return DedupResult(assessments, sorted(clusters, key=lambda c: c.kept), [listed[k] for k in sorted(listed)])


def _strongest_pair_per_position(pairs: Sequence[DuplicatePair]) -> dict[tuple[int, int | None], DuplicatePair]:
    """Per position: its pair with each partner, and (key `None`) its strongest pair of all."""
    best: dict[tuple[int, int | None], DuplicatePair] = {}
    for pair in pairs:
        for this, other in ((pair.first, pair.second), (pair.second, pair.first)):
            for key in ((this, other), (this, None)):
                if key not in best or pair.similarity > best[key].similarity:
                    best[key] = pair
    return best
