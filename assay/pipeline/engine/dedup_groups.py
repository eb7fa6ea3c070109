"""The global dedup's candidate groups on one machine: numpy over the key and signature columns.

Two survivors can only be duplicates if exact dedup or a verified MinHash pair joins them: the
same exact key, or an LSH-proposed pair whose Jaccard similarity reaches the lowest value that
can verify. The pool splits into candidate groups, the connected components of those links
(dedup_links.py); a sample alone in its group is kept with no dedup scores, as the in-memory
engine keeps it. Each group is then deduplicated by the Dedup tool itself (dedup_pass.py).

Memory is fixed-width columns, filled in place batch by batch: per survivor its position (8
bytes), exact key (16) and MinHash signature (4 bytes a permutation, 512 at the default 128),
then the LSH buckets as two flat arrays (tools/dedup_buckets.py). A first read of the `keep`
column counts the survivors, so the arrays are sized once and filled a chunk of rows at a time:
no batch's column is kept and no copy is concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions


@dataclass(frozen=True)
class Survivors:
    """The survivors of pass 1 as columns: input positions (ascending), exact keys and signatures (None when
    that method is off), and how many each batch holds."""

    position: np.ndarray
    exact: np.ndarray | None
    signatures: np.ndarray | None
    sizes: list[int]


def candidate_groups(parts: Parts, batches: int, options: ScoreOptions) -> tuple[int, np.ndarray, np.ndarray]:
    """(survivors, their positions in groups of two or more, each one's group label), from the key columns."""
    from assay.pipeline.engine.dedup_features import lsh_params
    from assay.pipeline.engine.dedup_links import similar_links
    from assay.tools.dedup_buckets import band_buckets

    survivors = read_survivors(parts, batches, options)
    count = len(survivors.position)
    links = [exact_links(survivors.exact)]
    if survivors.signatures is not None:
        buckets = band_buckets(survivors.signatures, *lsh_params(options))
        links.append(similar_links(parts, survivors.sizes, buckets, survivors.signatures, options, links[0]))
    return (count, *components(count, survivors.position, links))


def read_survivors(parts: Parts, batches: int, options: ScoreOptions) -> Survivors:
    """The survivors' positions, exact keys and signatures, read batch by batch into arrays sized once."""
    import pyarrow.compute as pc

    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART
    from assay.pipeline.screen.scoring import dedup_options

    sizes = [sum(pc.sum(chunk.column("keep")).as_py() or 0
                 for chunk in parts.read_chunks(SCREEN_PART, index, columns=["keep"], rows=1 << 16))
             for index in range(batches)]
    count = sum(sizes)
    num_perm = dedup_options(options.screen)["num_perm"]
    position = np.empty(count, dtype=np.int64)
    exact = np.empty(count, dtype="S16") if "exact" in options.dedup else None
    signatures = np.empty((count, num_perm), dtype=np.uint32) if "minhash" in options.dedup else None
    columns = ["position", "keep"] + ["exact_key"] * (exact is not None) + ["signature"] * (signatures is not None)
    start = 0
    for index, size in enumerate(sizes):
        if not size:
            continue
        for chunk in parts.read_chunks(SCREEN_PART, index, columns=columns):
            chunk = chunk.filter(pc.fill_null(chunk.column("keep"), False))
            end = start + len(chunk)
            position[start:end] = chunk.column("position").to_numpy()
            if exact is not None:
                exact[start:end] = _fixed(chunk.column("exact_key"), "S16")
            if signatures is not None:
                signatures[start:end] = _values(chunk.column("signature")).reshape(end - start, num_perm)
            start = end
    return Survivors(position, exact, signatures, sizes)


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


def _fixed(array: object, dtype: str) -> np.ndarray:
    """A fixed-size binary Arrow array's values as numpy bytes (a survivor always has its key: no nulls)."""
    if array.null_count:  # type: ignore[attr-defined]
        raise ValueError("a survivor of pass 1 has no exact key: the screen part is not this engine's")
    width = np.dtype(dtype).itemsize
    data = array.buffers()[1]  # type: ignore[attr-defined]
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * width)  # type: ignore[arg-type,attr-defined]


def _values(array: object) -> np.ndarray:
    """A list array's values, flattened (a survivor always has its signature: no nulls)."""
    if array.null_count:  # type: ignore[attr-defined]
        raise ValueError("a survivor of pass 1 has no MinHash signature: the screen part is not this engine's")
    return array.flatten().to_numpy()  # type: ignore[attr-defined]
