"""A selector plugin: take the clusters in turn, the best-scored remaining candidate of each.

Every cluster gets a pick before any gets a second one, so small clusters are not crowded
out by a large one of high scores. Without clusters it is best-quality-first; without a
quality score, a seeded shuffle within each cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.tools.selection.base import Admission, Pool


class RoundRobin:
    """Constructed with `[plugins.settings.round_robin]`: `per_turn`, picks per cluster in each turn (default 1)."""

    needs_vectors = False  # it reads pool.quality and pool.clusters only

    def __init__(self, per_turn: int = 1) -> None:
        if per_turn < 1:
            raise ValueError(f"per_turn must be ≥ 1, got {per_turn}")
        self.per_turn = per_turn

    def __call__(self, pool: Pool, n: int, admission: Admission, *, seed: int) -> Sequence[int]:
        """Up to n rows in pick order, within the floor and quotas (asked of `admission`)."""
        quality = pool.quality if pool.quality is not None else np.zeros(pool.size)
        clusters = pool.clusters if pool.clusters is not None else np.zeros(pool.size, dtype=np.int64)
        tie = np.random.default_rng(seed).random(pool.size)
        order = np.lexsort((tie, -quality))  # best first, ties in a seeded order
        queues: dict[int, list[int]] = {}
        for i in order.tolist():
            queues.setdefault(int(clusters[i]), []).append(i)
        picks: list[int] = []
        while len(picks) < n and any(queues.values()):
            for queue in queues.values():  # clusters in the order of their best candidate
                taken = 0
                while queue and taken < self.per_turn and len(picks) < n:
                    i = queue.pop(0)
                    if admission.admits(i):
                        admission.take(i)
                        picks.append(i)
                        taken += 1
        return picks
