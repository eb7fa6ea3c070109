"""The report's pool map: a 2-D PCA projection of the stored embeddings of (a seeded subsample of) the pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAP_LIMIT = 3000
# Below this share of the variance on the two axes, the page says so in a box, not in grey text:
# on 384-d sentence embeddings PCA's first two axes often explain under a tenth.
EXPLAINS_LITTLE = 0.25


@dataclass(frozen=True)
class PoolMap:
    """A 2-D PCA projection of (a seeded subsample of) the stored embeddings."""

    xy: np.ndarray
    statuses: list[str]
    hover: list[str]
    total: int
    explained: tuple[float, float]

    @property
    def explains_little(self) -> bool:
        """Whether the two axes together hold under EXPLAINS_LITTLE of the variance."""
        return sum(self.explained) < EXPLAINS_LITTLE

    def explained_note(self) -> str:
        """How much of the variance the map shows, in words, and what that means for reading it.

        A projection only shrinks distances: points far apart on the map differ, but with little
        variance on its axes, points close together need not be alike."""
        first, second = self.explained
        text = f"PCA: the two axes explain {first:.0%} + {second:.0%} of the variance"
        if not self.explains_little:
            return text + "."
        return (text + f", {first + second:.0%} together: most of how the samples differ is not on this map. "
                "Points far apart here differ; points close together need not be alike.")


def pool_map_of(session: Any, rows: list[Any], quality: dict[str, float]) -> tuple[PoolMap | None, str]:
    """PCA of the stored embeddings of a seeded subsample (at most MAP_LIMIT points), or why there is none.

    `rows`: the session's samples (id, status, reason), in order; `quality`: each one's latest score."""
    if not rows:
        return None, "the session holds no samples"
    chosen = rows
    if len(rows) > MAP_LIMIT:
        rng = np.random.default_rng(int(session.config.llm.seed))
        chosen = [rows[i] for i in np.sort(rng.choice(len(rows), MAP_LIMIT, replace=False))]
    ids, vectors = _stored_vectors(session.store, [r["id"] for r in chosen])
    if len(ids) == 0:
        return None, "no stored embeddings"
    by_id = {r["id"]: r for r in chosen}
    xy, explained = pca_2d(vectors)
    hover = [_hover(by_id[i], quality.get(i)) for i in ids]
    return PoolMap(xy, [by_id[i]["status"] for i in ids], hover, len(rows), explained), ""


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The first two principal components of the rows (n×2, zero-padded when the rows have fewer
    dimensions or points), and the share of the variance each explains.

    scikit-learn's PCA with the covariance eigen-solver (d×d, not an SVD of the n×d matrix), on one
    BLAS thread: for 3,000 MiniLM vectors that takes a tenth of a second, where a busy machine's
    thread pool made it take seconds.
    """
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    points = np.asarray(vectors, dtype=np.float64)
    xy = np.zeros((len(points), 2))
    dims = min(2, *points.shape)
    if dims == 0 or not np.ptp(points, axis=0).any():  # no spread: every point sits at the centre
        return xy, (0.0, 0.0)
    pca = PCA(n_components=dims, svd_solver="covariance_eigh")
    with threadpool_limits(1):
        xy[:, :dims] = pca.fit_transform(points)
    shares = [float(v) for v in pca.explained_variance_ratio_] + [0.0, 0.0]
    return xy, (shares[0], shares[1])


def _stored_vectors(store: Any, ids: list[str]) -> tuple[list[str], np.ndarray]:
    """The embeddings of these ids in one fetch; ids the store lacks are left out."""
    try:
        return ids, store.vectors(ids)
    except KeyError:  # some ids have no vector (samples stored before their embedding): keep those that do
        got = store.collection.get(ids=ids, include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        kept = [i for i in ids if i in by_id]
        if not kept:
            return [], np.zeros((0, 0), dtype=np.float32)
        return kept, np.asarray([by_id[i] for i in kept], dtype=np.float32)


def _hover(row: Any, quality: float | None) -> str:
    text = f"{row['id']} · {row['status']}"
    if row["reason"]:
        text += f" · {row['reason'][:80]}"
    if quality is not None:
        text += f" · quality {quality:.2f}"
    return text
