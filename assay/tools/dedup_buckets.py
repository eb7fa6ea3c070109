"""LSH buckets held compactly: one flat array of members and where each bucket starts.

A pool of N signatures gives about as many buckets as it has samples (pairs proposed by one band,
and every band of a cluster of copies): held as one small numpy array each they cost some 110
bytes of object header apiece, more than their members. `Buckets` keeps them in two arrays
(int32 members while positions fit, int64 starts) and hands out each bucket as a view, so it
is a drop-in `Sequence[np.ndarray]` for link_buckets and BandIndex (dedup_lsh.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np


class Buckets(Sequence[np.ndarray]):
    """Buckets of positions: bucket i is `members[starts[i]:starts[i + 1]]` (positions ascending)."""

    def __init__(self, members: np.ndarray, starts: np.ndarray) -> None:
        self.members = members  # every bucket's members, one bucket after another
        self.starts = starts  # len(buckets) + 1 offsets into `members`

    @classmethod
    def of(cls, buckets: Sequence[np.ndarray]) -> Buckets:
        """The same buckets, held compactly (a list of arrays, as the Ray engine's shuffle gives them)."""
        if isinstance(buckets, Buckets):
            return buckets
        lengths = np.array([len(bucket) for bucket in buckets], dtype=np.int64)
        members = np.concatenate(list(buckets)) if len(buckets) else np.zeros(0, dtype=np.int64)
        return cls(members, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def distinct(self) -> Buckets:
        """The buckets without those equal to an earlier one (a cluster of exact copies fills the same bucket in
        every band), the rest in order. Exact: the buckets of one size are compared row by row."""
        lengths = np.diff(self.starts)
        keep = np.zeros(len(self), dtype=bool)
        for size in np.unique(lengths).tolist():
            which = np.flatnonzero(lengths == size)
            block = self.members[self.starts[which][:, None] + np.arange(size)]
            keep[which[np.unique(block, axis=0, return_index=True)[1]]] = True  # the first of each, a stable sort
        if keep.all():
            return self
        members = self.members[np.repeat(keep, lengths)]
        return Buckets(members, np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.starts) - 1

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | Sequence[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.members[self.starts[index]:self.starts[index + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        starts = self.starts.tolist()
        for start, end in zip(starts[:-1], starts[1:], strict=True):
            yield self.members[start:end]


def band_buckets(signatures: np.ndarray, bands: int, rows: int) -> Buckets:
    """Per band, the groups of two or more samples whose rows in that band are all equal, bands in order and,
    within a band, in the order of their sorted rows; each bucket's positions ascending. Exact comparison
    of the rows (a sort), no band hash that could collide."""
    count = len(signatures)
    dtype = np.int32 if count < np.iinfo(np.int32).max else np.int64
    members: list[np.ndarray] = []
    sizes: list[np.ndarray] = []
    if count >= 2:
        for band in range(bands):
            block = signatures[:, band * rows:(band + 1) * rows]
            order = np.lexsort(block.T[::-1])  # stable: positions ascend within equal rows
            ordered = block[order]
            new = np.ones(count, dtype=bool)
            new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
            del ordered
            starts = np.flatnonzero(new)
            size = np.diff(np.append(starts, count))
            shared = size >= 2
            members.append(order[np.repeat(shared, size)].astype(dtype))
            sizes.append(size[shared])
    flat = np.concatenate(members) if members else np.zeros(0, dtype=dtype)
    lengths = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    return Buckets(flat, np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64))


def bucket_pairs(buckets: Buckets, largest: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (first, second) of members of the buckets of at most `largest` members, and the members of
    the larger buckets (whose pairs are too many to list): what a test over bucket mates may ever be asked."""
    lengths = np.diff(buckets.starts)
    first: list[np.ndarray] = []
    second: list[np.ndarray] = []
    for size in range(2, largest + 1):
        heads = buckets.starts[:-1][lengths == size]
        if not len(heads):
            continue
        block = buckets.members[heads[:, None] + np.arange(size)]  # (buckets of this size × size)
        left, right = np.triu_indices(size, k=1)
        first.append(block[:, left].ravel())
        second.append(block[:, right].ravel())
    large = np.flatnonzero(lengths > largest)
    rest = [buckets.members[buckets.starts[i]:buckets.starts[i + 1]] for i in large.tolist()]
    empty = np.zeros(0, dtype=buckets.members.dtype)
    return (np.concatenate(first) if first else empty, np.concatenate(second) if second else empty,
            np.concatenate(rest) if rest else empty)
