"""What every selector takes and returns, and the constraints they all respect.

A selector sees the pool as aligned arrays (row i = candidate i): quality scores, cluster
ids, label sets (tags), embeddings — whichever it needs. It walks candidates in its own
order (greedy gain, score, distance, a seeded shuffle) and asks an `Admission` whether each
may join: the quality floor and the per-cluster / per-tag quotas live there, once, so every
method obeys them the same way. A selector stops at exactly `n` picks, or earlier when no
admissible candidate is left; the result then says so in a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class LabelSets:
    """Each candidate's labels (tags), as CSR rows over `names`: row i is
    `indices[indptr[i]:indptr[i+1]]`. Built once so 1M candidates cost arrays, not lists."""

    names: tuple[str, ...]
    indptr: np.ndarray  # (N+1,) int64
    indices: np.ndarray  # (nnz,) int32, label ids, unique and sorted within a row

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[str]]) -> LabelSets:
        """From per-candidate lists of label strings (repeats within a row are merged)."""
        names = sorted({label for row in rows for label in row})
        index = {name: i for i, name in enumerate(names)}
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        flat: list[int] = []
        for i, row in enumerate(rows):
            ids = sorted({index[label] for label in row})
            flat.extend(ids)
            indptr[i + 1] = len(flat)
        return cls(tuple(names), indptr, np.asarray(flat, dtype=np.int32))

    @property
    def n_rows(self) -> int:
        """Number of candidates."""
        return len(self.indptr) - 1

    def row(self, i: int) -> np.ndarray:
        """Label ids of candidate i."""
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def take(self, rows: np.ndarray) -> LabelSets:
        """The label sets of a subset of candidates, in the order given (names unchanged)."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return LabelSets(self.names, indptr, self.indices[_gather_positions(self.indptr[rows], lengths)])


@dataclass(frozen=True)
class Constraints:
    """Rules every selector obeys: a quality floor and optional quotas."""

    min_quality: float | None = None  # candidates scoring below are never picked
    max_per_cluster: int | None = None  # at most this many picks from one cluster
    max_per_tag: int | None = None  # at most this many picks carrying one tag (refused once any of its tags is full)


@dataclass(frozen=True)
class Pool:
    """The candidates, as aligned arrays; a selector uses the fields it needs."""

    size: int
    quality: np.ndarray | None = None  # (N,) float64; None: every candidate counts the same
    clusters: np.ndarray | None = None  # (N,) int64, -1 for none
    labels: LabelSets | None = None
    vectors: np.ndarray | None = None  # (N, d) float32 unit rows
    label_vectors: np.ndarray | None = None  # (len(labels.names), d) float32 unit rows

    def __post_init__(self) -> None:
        for name in ("quality", "clusters", "vectors"):
            value = getattr(self, name)
            if value is not None and len(value) != self.size:
                raise ValueError(f"{name} has {len(value)} rows for a pool of {self.size}")
        if self.labels is not None and self.labels.n_rows != self.size:
            raise ValueError(f"labels have {self.labels.n_rows} rows for a pool of {self.size}")
        if self.label_vectors is not None and (self.labels is None or len(self.label_vectors) != len(self.labels.names)):
            raise ValueError("label_vectors need labels, one row per label name")


@dataclass
class Selection:
    """Picks in rank order, each with the value that won it (see each method for its meaning)."""

    method: str
    requested: int
    indices: np.ndarray  # (k,) int64, rank order
    gains: np.ndarray | None  # (k,) float64, or None where the method has no such value
    eligible: int  # candidates that passed the floor
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Admission:
    """The floor and the quotas, checked as picks are made.

    Quota counts only grow, so a candidate refused once stays refused: a selector may drop
    it for good (lazy greedy does).
    """

    def __init__(self, pool: Pool, constraints: Constraints) -> None:
        self.constraints = constraints
        eligible = np.ones(pool.size, dtype=bool)
        if constraints.min_quality is not None:
            if pool.quality is None:
                raise ValueError("a quality floor needs quality scores")
            eligible &= pool.quality >= constraints.min_quality
        self.eligible = eligible
        self._clusters = pool.clusters if constraints.max_per_cluster is not None else None
        if constraints.max_per_cluster is not None and pool.clusters is None:
            raise ValueError("a per-cluster quota needs cluster ids")
        self._labels = pool.labels if constraints.max_per_tag is not None else None
        if constraints.max_per_tag is not None and pool.labels is None:
            raise ValueError("a per-tag quota needs tags")
        self._cluster_counts: dict[int, int] = {}
        self._tag_counts = np.zeros(len(pool.labels.names) if self._labels is not None else 0, dtype=np.int64)

    @property
    def has_quotas(self) -> bool:
        """Whether any quota applies (selectors may skip per-pick checks when not)."""
        return self._clusters is not None or self._labels is not None

    def admits(self, i: int) -> bool:
        """Whether candidate i may be picked now."""
        if not self.eligible[i]:
            return False
        if self._clusters is not None:
            cluster = int(self._clusters[i])
            if cluster >= 0 and self._cluster_counts.get(cluster, 0) >= self.constraints.max_per_cluster:  # type: ignore[operator]
                return False
        if self._labels is not None:
            tags = self._labels.row(i)
            if len(tags) and int(self._tag_counts[tags].max()) >= self.constraints.max_per_tag:  # type: ignore[operator]
                return False
        return True

    def take(self, i: int) -> None:
        """Record candidate i as picked (counts toward its cluster's and tags' quotas)."""
        if self._clusters is not None and self._clusters[i] >= 0:
            cluster = int(self._clusters[i])
            self._cluster_counts[cluster] = self._cluster_counts.get(cluster, 0) + 1
        if self._labels is not None:
            self._tag_counts[self._labels.row(i)] += 1


class SelectorPlugin(Protocol):
    """A selector from another package, registered under the entry point group `assay.selectors`.

    The entry point names a factory that assay calls with the plugin's recipe settings as
    keyword arguments (`[plugins.settings.NAME]`); it returns this callable. Called with the
    pool, the number wanted, the shared `Admission` and the run's seed, it returns candidate
    indices (rows of the pool) in rank order, at most `n` of them. It must ask
    `admission.admits(i)` before each pick and call `admission.take(i)` after it, as the
    built-in selectors do, so the floor and the quotas hold; assay checks the picks again
    and refuses a selection that breaks them. An optional attribute `needs_vectors = True`
    asks for `pool.vectors` (the samples' embeddings); quality, clusters and tags are given
    whenever the data has them.
    """

    def __call__(self, pool: Pool, n: int, admission: Admission, *, seed: int) -> Sequence[int]: ...


def shortfall_warning(method: str, picked: int, requested: int, eligible: int, constraints: Constraints) -> list[str]:
    """The warning for a selection smaller than asked: what limited it."""
    if picked >= requested:
        return []
    limits = []
    if constraints.min_quality is not None:
        limits.append(f"quality floor {constraints.min_quality:g} ({eligible} candidates pass it)")
    if constraints.max_per_cluster is not None:
        limits.append(f"at most {constraints.max_per_cluster} per cluster")
    if constraints.max_per_tag is not None:
        limits.append(f"at most {constraints.max_per_tag} per tag")
    why = "; ".join(limits) if limits else f"the pool holds {eligible} candidates"
    return [f"{method}: only {picked} of the {requested} requested samples qualify ({why}); returning all {picked}"]


def _gather_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ranges [start, start+length) as one index array, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)
