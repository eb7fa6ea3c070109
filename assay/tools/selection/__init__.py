"""Selection: choose the best N samples — MIG, DEITA, k-center greedy, random.

`select(method, pool, n)` runs one method under the shared constraints (quality floor,
per-cluster and per-tag quotas, exact size or all that qualify with a warning) and returns
a `Selection`: indices in rank order, the value that won each pick, warnings and notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.tools.selection.base import Admission, Constraints, LabelSets, Pool, Selection, shortfall_warning
from assay.tools.selection.deita import DEFAULT_THRESHOLD, deita_filter
from assay.tools.selection.kcenter import kcenter_greedy
from assay.tools.selection.label_graph import information_matrix, label_adjacency, propagation_matrix
from assay.tools.selection.mig import Gain, PowerPhi, lazy_greedy
from assay.tools.selection.random_select import random_select

METHODS = ("mig", "deita", "kcenter", "random")
# What `Selection.gains` holds, per method (written as `gain` beside each pick).
GAIN_MEANING = {
    "mig": "information gain when picked",
    "deita": "largest cosine to the samples picked before it",
    "kcenter": "distance to the nearest earlier pick",
    "random": "none",
}
NEEDS_VECTORS = {"deita", "kcenter"}


@dataclass(frozen=True)
class MigOptions:
    """MIG's knobs, defaulting to the paper's values."""

    label_threshold: float = 0.9  # cosine at which two labels are linked
    phi_a: float = 1e-6
    phi_b: float = 0.8
    gain: Gain = "gradient"
    split_quality: bool = False  # s / |labels| on each label instead of s
    off_diagonal_weight: float = 1.0


def select(method: str, pool: Pool, n: int, *, constraints: Constraints = Constraints(), seed: int = 0,
           deita_threshold: float = DEFAULT_THRESHOLD, mig: MigOptions = MigOptions()) -> Selection:
    """Run one selection method on the pool; see the module docstrings for each method."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    if method in NEEDS_VECTORS and pool.vectors is None:
        raise ValueError(f"{method} needs sample embeddings")
    admission = Admission(pool, constraints)
    eligible = int(admission.eligible.sum())
    notes: list[str] = []
    gains: np.ndarray | None
    if method == "mig":
        indices, gains, notes = _run_mig(pool, n, admission, mig)
    elif method == "deita":
        indices, gains = deita_filter(pool.vectors, pool.quality, n, admission, threshold=deita_threshold)  # type: ignore[arg-type]
    elif method == "kcenter":
        indices, gains = kcenter_greedy(pool.vectors, n, admission, seed=seed)  # type: ignore[arg-type]
    else:
        indices, gains = random_select(n, admission, seed=seed), None
    warnings = shortfall_warning(method, len(indices), n, eligible, constraints)
    return Selection(method, n, indices, gains, eligible, warnings, notes)


def _run_mig(pool: Pool, n: int, admission: Admission, options: MigOptions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    notes = []
    labels, propagation = pool.labels, None
    if labels is None:
        if pool.clusters is None:
            raise ValueError("MIG needs tags or clusters as labels")
        labels = cluster_labels(pool.clusters)
        notes.append(f"no tags: MIG used the {len(labels.names)} clusters as labels (disjoint, no label graph)")
    elif pool.label_vectors is None:
        notes.append("no label embeddings: MIG treated the tags as unrelated (no label graph)")
    else:
        adjacency = label_adjacency(pool.label_vectors, options.label_threshold,
                                    off_diagonal_weight=options.off_diagonal_weight)
        propagation = propagation_matrix(adjacency)
        edges = (adjacency.nnz - adjacency.shape[0]) // 2
        notes.append(f"label graph: {len(labels.names)} tags, {edges} edges at cosine ≥ {options.label_threshold:g}")
        untagged = int((np.diff(labels.indptr) == 0).sum())
        if untagged:
            notes.append(f"{untagged} candidates carry no tag: their gain is 0, so MIG takes them last")
    if pool.quality is None:
        notes.append("no quality score: MIG weighted every candidate 1 (diversity only)")
    elif pool.quality[admission.eligible].min(initial=0.0) < 0:
        raise ValueError("MIG needs quality scores ≥ 0")
    information = information_matrix(labels, pool.quality, propagation, split_quality=options.split_quality)
    run = lazy_greedy(information, n, admission, phi=PowerPhi(options.phi_a, options.phi_b), gain=options.gain)
    return run.indices, run.gains, notes


def cluster_labels(clusters: np.ndarray) -> LabelSets:
    """One label per candidate, its cluster (none for −1)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    has = clusters >= 0
    names = np.unique(clusters[has])
    indptr = np.zeros(len(clusters) + 1, dtype=np.int64)
    np.cumsum(has, out=indptr[1:])
    indices = np.searchsorted(names, clusters[has]).astype(np.int32)
    return LabelSets(tuple(f"cluster {c}" for c in names.tolist()), indptr, indices)


__all__ = ["GAIN_MEANING", "METHODS", "Constraints", "LabelSets", "MigOptions", "Pool", "Selection", "select"]
