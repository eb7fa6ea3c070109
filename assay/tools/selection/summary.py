"""How a selection compares with its pool: size, mean quality, cluster and tag coverage, entropy.

Entropies are normalised by the log of the pool's category count (clusters or tags), so
1.0 means the selection spreads evenly over every category the pool has, and a selection
that drops categories scores lower than one that keeps them, at the same balance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.tools.coverage import distribution_entropy
from assay.tools.selection.base import Pool


def describe(pool: Pool, rows: np.ndarray) -> dict[str, Any]:
    """Figures for the candidates `rows` of the pool (all of them for the pool itself)."""
    rows = np.asarray(rows, dtype=np.int64)
    figures: dict[str, Any] = {"size": len(rows)}
    figures["mean_quality"] = float(pool.quality[rows].mean()) if pool.quality is not None and len(rows) else None
    if pool.clusters is not None:
        pool_clusters = np.unique(pool.clusters[pool.clusters >= 0])
        mine = pool.clusters[rows]
        mine = np.searchsorted(pool_clusters, mine[mine >= 0])
        figures["clusters"] = int(len(np.unique(mine)))
        figures["cluster_coverage"] = len(np.unique(mine)) / max(len(pool_clusters), 1)
        figures["cluster_entropy"] = distribution_entropy(mine, len(pool_clusters)).normalised
    if pool.labels is not None:
        labels = pool.labels.take(rows)
        in_pool = np.unique(pool.labels.indices)
        occurrences = np.searchsorted(in_pool, labels.indices)
        figures["tags"] = int(len(np.unique(occurrences)))
        figures["tag_coverage"] = len(np.unique(occurrences)) / max(len(in_pool), 1)
        figures["tag_entropy"] = distribution_entropy(occurrences, len(in_pool)).normalised
    return figures


def compare(pool: Pool, selected: np.ndarray) -> dict[str, dict[str, Any]]:
    """`describe` for the whole pool and for the selection, side by side."""
    return {"pool": describe(pool, np.arange(pool.size)), "selection": describe(pool, selected)}
