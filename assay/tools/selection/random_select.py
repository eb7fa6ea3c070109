"""Random selection under a seed: the baseline every other method must beat."""

from __future__ import annotations

import numpy as np

from assay.tools.selection.base import Admission


def random_select(n: int, admission: Admission, *, seed: int = 0) -> np.ndarray:
    """A seeded shuffle of the eligible candidates, taken in order while quotas admit them."""
    candidates = np.flatnonzero(admission.eligible)
    order = candidates[np.random.default_rng(seed).permutation(len(candidates))]
    if not admission.has_quotas:
        chosen = order[:n]
        for i in chosen:
            admission.take(int(i))
        return chosen.astype(np.int64)
    picked: list[int] = []
    for i in order:
        if len(picked) >= n:
            break
        if admission.admits(int(i)):
            admission.take(int(i))
            picked.append(int(i))
    return np.asarray(picked, dtype=np.int64)
