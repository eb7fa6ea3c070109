"""LSH over the candidate signatures (dedup_signature.py): the banding, the buckets, and the links they verify.

Two samples are *proposed* when all rows of one band of their signatures are equal and the
share of equal values across the whole signature (the MinHash estimate of their key-space
Jaccard) reaches `plausible_cut`. Both engines use this one predicate, so they verify the same
pairs. The banding is chosen for the real floor (the lower of the Jaccard threshold and the
edited-copy floor, on 3-grams), carried over to the key's 5-grams by `key_threshold`.

`link_buckets` joins the samples of each bucket without verifying every pair in it: a
newcomer is verified against the clusters already in the bucket, one member at a time until
one verifies, and skips the clusters it has joined. A bucket of k copies costs about k
verifications, not k(k-1)/2; a pair that fails is not tried again in another band. The
clusters are the connected components of the verified proposed pairs all the same: a
newcomer that verifies with any member of a cluster is tried against that cluster's members
until one does (see the proof in `link_buckets`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from assay.tools import dedup_buckets
from assay.tools.dedup_cluster import UnionFind
from assay.tools.dedup_signature import KEY_SIZE

FLOOR_RECALL = 0.7  # the least chance that LSH proposes a pair exactly at the floor (more above it)
# Rows per band at most: at 5 rows and 25 bands, pairs of unrelated alpaca_5000 texts are proposed at a rate
# of 3e-6 (1.5 candidates a sample in a pool of 1M); more rows save little and lose pairs near the floor
# (7 rows, chosen for the 0.8 threshold alone, lost 2 % of evals/eval_dedup.py's near copies).
MAX_ROWS = 5
CUT_SD = 5  # the estimate cut: this many standard deviations under the key-space floor


def key_threshold(floor: float, shingle_size: int = 3, key_size: int = KEY_SIZE) -> float:
    """The key-space Jaccard of a pair whose `shingle_size`-gram Jaccard is `floor`, if each character
    survives an edit alike: a share q = 2J/(1+J) of grams is shared, a character p = q^(1/size), and
    the key's grams q' = p^key_size. On the planted copies of evals/eval_dedup.py it errs low (3-gram
    0.71 maps to 0.58; the least seen on 5-grams was 0.63), so the banding leans to recall."""
    shared = 2 * floor / (1 + floor)
    kept = shared ** (key_size / shingle_size)
    return kept / (2 - kept)


def banding(floor: float, num_perm: int, shingle_size: int = 3, bands: int | None = None) -> tuple[int, int]:
    """(bands, rows per band): the given `bands`, else the most rows per band (the fewest false candidates),
    up to MAX_ROWS, that still propose a pair at the key-space floor with probability FLOOR_RECALL."""
    if bands is not None:
        return bands, num_perm // bands
    target = key_threshold(floor, shingle_size)
    rows = 1
    for r in range(1, min(MAX_ROWS, num_perm) + 1):
        if 1 - (1 - target**r) ** (num_perm // r) >= FLOOR_RECALL:
            rows = r
    return num_perm // rows, rows


def plausible_cut(floor: float, num_perm: int, shingle_size: int = 3) -> float:
    """The least share of equal signature values that proposes a pair: CUT_SD standard deviations of the
    estimate under the key-space floor (a pair at the floor falls under it with probability < 1e-6)."""
    target = key_threshold(floor, shingle_size)
    return target - CUT_SD * math.sqrt(target * (1 - target) / num_perm)


def band_buckets(signatures: np.ndarray, bands: int, rows: int) -> Sequence[np.ndarray]:
    """Per band, the groups of two or more samples whose rows in that band are all equal: arrays of
    positions, ascending. Exact comparison of the rows (a sort), no band hash that could collide.
    Held compactly, as two flat arrays (dedup_buckets.py)."""
    return dedup_buckets.band_buckets(signatures, bands, rows)


class BandIndex:
    """The LSH index of a batch's signatures: which pairs it proposes, and each sample's candidates."""

    def __init__(self, signatures: np.ndarray, bands: int, rows: int, cut: float) -> None:
        self.signatures, self.b, self.r, self.cut = signatures, bands, rows, cut
        self.buckets = band_buckets(signatures, bands, rows)
        self._buckets_of: dict[int, list[int]] | None = None

    def proposes(self, first: int, second: int) -> bool:
        """Whether one band of the two signatures is equal and their estimated similarity reaches the cut."""
        equal = self.signatures[first] == self.signatures[second]
        return bool(equal[:self.b * self.r].reshape(self.b, self.r).all(axis=1).any() and equal.mean() >= self.cut)

    def candidates(self, position: int) -> set[int]:
        """The positions proposed with `position` (itself excluded)."""
        if self._buckets_of is None:
            self._buckets_of = {}
            for index, bucket in enumerate(self.buckets):
                for member in bucket.tolist():
                    self._buckets_of.setdefault(member, []).append(index)
        near = {m for index in self._buckets_of.get(position, ()) for m in self.buckets[index].tolist()} - {position}
        return {m for m in near if self.proposes(min(m, position), max(m, position))}

    def links(self, joined: UnionFind, related: Callable[[int, int], bool]) -> list[tuple[int, int]]:
        """`link_buckets` over this index's buckets, each pair first checked to be proposed."""
        return link_buckets(self.buckets, joined, related, reject=lambda a, b: not self.proposes(a, b))


def link_buckets(buckets: Iterable[np.ndarray], joined: UnionFind, related: Callable[[int, int], bool],
                 reject: Callable[[int, int], bool] | None = None) -> list[tuple[int, int]]:
    """Join the related pairs of each bucket (positions ascending) in `joined`; returns the pairs (a < b) that
    joined two clusters. `related(a, b)` is the pair test (proposed, then verified); it is asked of a pair
    at most once, and never of a pair already joined. `reject(a, b)`, when given, is a cheap test run
    first that rules a pair out (not proposed): such a pair is tested again if met again rather than
    remembered, since most pairs a bucket holds by chance meet once and remembering them all costs
    memory that grows with the pool.

    Why every related pair within a bucket ends up joined: when b comes, each earlier member a is in one
    group of members already joined to each other. If a's group is b's cluster, a and b are joined. If
    not, b is tried against that group's members until one is related; if none is, a is not either.
    """
    links: list[tuple[int, int]] = []
    # The pairs `related` failed, each as one int (not a tuple of two: a third of the memory); a pair that
    # passed is joined, so the cluster check skips it for good.
    failed: set[int] = set()
    stride = len(joined.parent)
    done: set[bytes] = set()  # a bucket met again in another band (exact copies: all bands) joins nothing new
    for bucket in buckets:
        key = bucket.tobytes()
        if key in done:
            continue
        done.add(key)
        groups: dict[int, list[int]] = {}  # the bucket's members so far, by their cluster's root
        for newcomer in bucket.tolist():
            merged: dict[int, list[int]] = {}
            for root, members in groups.items():  # clusters may have joined since: their groups merge
                merged.setdefault(joined.find(root), []).extend(members)
            groups = merged
            for root, members in groups.items():
                if joined.find(root) == joined.find(newcomer):
                    continue
                for member in members:
                    pair = member * stride + newcomer
                    if pair in failed or (reject is not None and reject(member, newcomer)):
                        continue
                    if related(member, newcomer):
                        joined.union(member, newcomer)
                        links.append((member, newcomer))
                        break
                    failed.add(pair)
            groups.setdefault(joined.find(newcomer), []).append(newcomer)
    return links
