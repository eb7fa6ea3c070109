"""The global dedup's candidate groups on one machine: numpy over the key and signature columns.

Two survivors can only be duplicates if exact dedup or a verified MinHash pair joins them: the
same exact key, or an LSH-proposed pair whose Jaccard similarity reaches the lowest value that
can verify. The pool splits into candidate groups, the connected components of those links
(dedup_links.py); a sample alone in its group is kept with no dedup scores, as the in-memory
engine keeps it. Each group is then deduplicated by the Dedup tool itself (dedup_pass.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions


def candidate_groups(parts: Parts, batches: int, options: ScoreOptions) -> tuple[int, np.ndarray, np.ndarray]:
    """(survivors, their positions in groups of two or more, each one's group label), from the key columns."""
    from assay.pipeline.engine.dedup_features import lsh_params
    from assay.pipeline.engine.dedup_links import similar_links
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART
    from assay.tools.dedup_lsh import band_buckets

    positions, exact, signature, sizes = [], [], [], []
    for index in range(batches):
        table = parts.read_table(SCREEN_PART, index, columns=["position", "keep", "exact_key", "signature"])
        table = table.filter(table.column("keep").fill_null(False))
        positions.append(table.column("position").to_numpy())
        exact.append(table.column("exact_key"))
        signature.append(table.column("signature"))
        sizes.append(len(table))
    position = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    count = len(position)
    links = [exact_links(_exact_keys(exact, count))]
    signatures = _signatures(signature, count)
    if signatures is not None:
        buckets = band_buckets(signatures, *lsh_params(options))
        links.append(similar_links(parts, sizes, buckets, signatures, options, links[0]))
    return (count, *components(count, position, links))


def exact_links(keys: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each group of equal exact keys linked in a chain (no links when exact dedup is off)."""
    if keys is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    return order[:-1][same], order[1:][same]


def components(count: int, position: np.ndarray,
               links: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the nodes in components of two or more, their component labels): scipy numbers the
    components by their least node, so any links with the same components give the same arrays."""
    first = np.concatenate([f for f, _ in links]) if links else np.zeros(0, dtype=np.int64)
    second = np.concatenate([s for _, s in links]) if links else np.zeros(0, dtype=np.int64)
    if not len(first):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(first), dtype=bool), (first, second)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    grouped = np.bincount(labels)[labels] >= 2
    return position[grouped], labels[grouped]


def _signatures(columns: list[Any], count: int) -> np.ndarray | None:
    """The survivors' MinHash signatures as a matrix (None when MinHash is off)."""
    column = _joined(columns)
    if column is None or column.null_count == count:
        return None
    return column.flatten().to_numpy().reshape(count, -1)


def _exact_keys(columns: list[Any], count: int) -> np.ndarray | None:
    """The survivors' exact keys (None when exact dedup is off)."""
    column = _joined(columns)
    if column is None or column.null_count == count:
        return None
    return np.array(column.to_pylist(), dtype="S16")


def _joined(columns: list[Any]) -> Any:
    """The per-batch chunked columns as one array."""
    import pyarrow as pa

    arrays = [chunk for column in columns for chunk in column.chunks]
    return pa.concat_arrays(arrays) if arrays else None
