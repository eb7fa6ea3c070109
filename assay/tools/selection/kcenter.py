"""k-center greedy (farthest-first traversal; Sener & Savarese 2018's core-set selection).

Start from a seeded random candidate; then repeatedly pick the candidate farthest from
everything picked so far. Distances are Euclidean between unit vectors (√(2 − 2·cosine));
an incremental array holds each candidate's distance to its nearest pick, so each step is
one pass over the pool (O(N·d) per pick). Quality plays no part, except through the floor.
"""

from __future__ import annotations

import numpy as np

from assay.tools.selection.base import Admission

ROW_BLOCK = 65536


def kcenter_greedy(vectors: np.ndarray, n: int, admission: Admission, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Picks in order and, for each, its distance to the nearest earlier pick (inf for the first)."""
    points = np.ascontiguousarray(vectors, dtype=np.float32)
    candidates = np.flatnonzero(admission.eligible)
    if n <= 0 or not len(candidates):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    nearest = np.full(len(points), np.inf, dtype=np.float64)
    open_ = np.zeros(len(points), dtype=bool)  # still pickable
    open_[candidates] = True
    rng = np.random.default_rng(seed)
    order = candidates[rng.permutation(len(candidates))]
    first = next((int(i) for i in order if not admission.has_quotas or admission.admits(int(i))), None)
    picked: list[int] = []
    distances: list[float] = []
    choice = first
    while choice is not None:
        distances.append(float(nearest[choice]))
        picked.append(choice)
        admission.take(choice)
        open_[choice] = False
        if len(picked) >= n:
            break
        _update_nearest(points, nearest, choice)
        choice = _farthest_open(nearest, open_, admission)
    return np.asarray(picked, dtype=np.int64), np.asarray(distances, dtype=np.float64)


def _update_nearest(points: np.ndarray, nearest: np.ndarray, center: int) -> None:
    """nearest = min(nearest, distance to the new center), block by block."""
    anchor = points[center]
    for start in range(0, len(points), ROW_BLOCK):
        block = slice(start, start + ROW_BLOCK)
        cosine = points[block] @ anchor
        distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * cosine.astype(np.float64)))
        np.minimum(nearest[block], distance, out=nearest[block])


def _farthest_open(nearest: np.ndarray, open_: np.ndarray, admission: Admission) -> int | None:
    """The open candidate farthest from every pick (lowest index among ties) that quotas admit."""
    while True:
        masked = np.where(open_, nearest, -np.inf)
        best = int(np.argmax(masked))
        if not open_[best]:
            return None
        if not admission.has_quotas or admission.admits(best):
            return best
        open_[best] = False  # its quota is full, for good
