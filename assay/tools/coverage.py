"""Coverage and diversity over sample embeddings: clusters, their balance, topic coverage, novelty.

Inputs are float32 vectors with rows aligned to samples (`Embedder().encode(texts)`), scaled
to unit length so a dot product is a cosine. Pairwise work runs tile by tile, never as a dense
N×N matrix, so the same code serves 155 samples and 100k+. The metrics feed the planner's gap
analysis and `assay score`'s summary; `ClusterTagger` puts the per-sample figures on the pipeline.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assay.core.records import Sample
from assay.core.assessment import Assessment

ROW_BLOCK = 1024  # query rows per tile
COLUMN_BLOCK = 16384  # reference rows per tile: 1024 × 16384 float32 = 64 MiB
MINIBATCH_ABOVE = 10_000  # full k-means below this many samples, mini-batch above

# Calibrated for all-MiniLM-L6-v2, short topic phrases against Sample.text() vectors (what
# the store holds). On alpaca_5000, reading the samples in each cosine band for 18 topics:
# 0.30-0.35 mostly off topic ("geography" -> the Pythagorean theorem), 0.35-0.40 about half,
# 0.40-0.45 mostly on topic, >= 0.45 nearly all. Topics absent from the data stay below:
# "Kubernetes deployment" peaks at 0.28 there and 0.14 on examples/pool.jsonl, where the
# best match of 20 topics it covers is 0.30-0.60 and of 16 it lacks 0.14-0.42. Asking for a
# few samples, not one, keeps a single near-miss ("tax law" -> "how a bill becomes a law",
# 0.42) from counting as coverage.
DEFAULT_TOPIC_THRESHOLD = 0.40
DEFAULT_TOPIC_MIN_SAMPLES = 3


@dataclass(frozen=True)
class Clustering:
    """A k-means partition: labels per sample (0 = largest cluster), unit centroids, sizes."""

    labels: np.ndarray  # (N,) int64
    centroids: np.ndarray  # (k, d) float32, unit length: the clusters' mean directions
    sizes: np.ndarray  # (k,) int64, every size > 0
    centroid_similarity: np.ndarray  # (N,) float32: cosine of each sample to its own centroid

    @property
    def k(self) -> int:
        """Number of (non-empty) clusters."""
        return len(self.sizes)

    @property
    def representatives(self) -> np.ndarray:
        """Per cluster, the index of the member closest to the centroid."""
        if self.k == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.lexsort((-self.centroid_similarity, self.labels))  # by cluster, best first
        first_of_cluster = np.r_[0, np.cumsum(self.sizes)[:-1]]
        return order[first_of_cluster]


@dataclass(frozen=True)
class ClusterSummary:
    """One row of a cluster report."""

    cluster: int
    count: int
    share: float
    mean_quality: float | None  # None when no member has a quality score
    representative: int  # sample index closest to the centroid


@dataclass(frozen=True)
class Entropy:
    """Shannon entropy (nats) of a label distribution, and the same ÷ log k (1.0 = even)."""

    entropy: float
    normalised: float


@dataclass(frozen=True)
class TopicMatch:
    """How well one required topic is represented in the pool."""

    topic: str
    count: int  # samples with cosine ≥ threshold
    covered: bool
    best_indices: list[int]  # best-matching samples, most similar first
    best_similarities: list[float]


@dataclass(frozen=True)
class TopicCoverage:
    """C = covered topics / required topics, with the per-topic evidence."""

    coverage: float
    topics: list[TopicMatch]

    @property
    def uncovered(self) -> list[str]:
        """The required topics the pool lacks: where expansion should go."""
        return [t.topic for t in self.topics if not t.covered]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Float32 C-contiguous rows scaled to unit length (zero rows stay zero); no copy if already so."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-d array of row vectors, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1)
    if np.allclose(norms[norms > 0], 1.0, atol=1e-3):
        return array
    return array / np.where(norms > 0, norms, 1.0)[:, None]


def default_cluster_count(n: int) -> int:
    """round(√(N/2)), the classic rule of thumb, clamped to [2, 256] and to N."""
    return min(n, max(2, min(256, round(math.sqrt(n / 2)))))


def cluster_pool(vectors: np.ndarray, k: int | None = None, seed: int = 0, *, threads: int | None = None) -> Clustering:
    """K-means over unit vectors, deterministic under `seed`.

    On unit vectors squared Euclidean distance is 2 − 2·cosine, so plain k-means groups by
    cosine; centroids are re-normalised to unit length afterwards. Full k-means (3 restarts)
    up to MINIBATCH_ABOVE samples, mini-batch k-means above. `k` is capped at N, and
    clusters left empty (fewer distinct points than k, e.g. all-identical vectors) are
    dropped, so `Clustering.k` may be smaller than asked. Labels are renumbered by size.
    `threads` caps the OpenMP/BLAS threads of the fit (None: the libraries' default). Where
    other busy processes share the cores, 1 is much faster, as OpenMP threads spin-wait for
    each other (100k vectors, 2 cores: 12 s with 1 thread; with 2, 13.5 s idle, 345 s at load 6).
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    points = unit_rows(vectors)
    n = len(points)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Clustering(empty, np.zeros((0, points.shape[1]), np.float32), empty, np.zeros(0, np.float32))
    k = min(n, k if k is not None else default_cluster_count(n))
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if n > MINIBATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096, max_iter=100)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=3)
    with warnings.catch_warnings(), threadpool_limits(threads):
        # Fewer distinct points than k is an expected case: the empty clusters are dropped below.
        warnings.filterwarnings("ignore", message="Number of distinct clusters")
        raw_labels = model.fit_predict(points)
    sizes = np.bincount(raw_labels, minlength=k)
    by_size = np.argsort(-sizes, kind="stable")
    by_size = by_size[sizes[by_size] > 0]
    new_label = np.empty(k, dtype=np.int64)
    new_label[by_size] = np.arange(len(by_size))
    labels = new_label[raw_labels]
    centroids = unit_rows(model.cluster_centers_[by_size])
    similarity = np.empty(n, dtype=np.float32)
    for start in range(0, n, ROW_BLOCK):
        rows = slice(start, start + ROW_BLOCK)
        similarity[rows] = np.einsum("ij,ij->i", points[rows], centroids[labels[rows]])
    return Clustering(labels, centroids, sizes[by_size].astype(np.int64), similarity)


def cluster_report(clustering: Clustering, quality: Sequence[float | None] | None = None) -> list[ClusterSummary]:
    """Per cluster: count, share of the pool, mean quality (None and NaN ignored), representative."""
    n = len(clustering.labels)
    if quality is not None and len(quality) != n:
        raise ValueError(f"quality has {len(quality)} values for {n} samples")
    totals = np.zeros(clustering.k)
    scored = np.zeros(clustering.k)
    if quality is not None:
        values = np.array([np.nan if q is None else q for q in quality], dtype=np.float64)
        known = ~np.isnan(values)
        np.add.at(totals, clustering.labels[known], values[known])
        np.add.at(scored, clustering.labels[known], 1)
    representatives = clustering.representatives
    return [
        ClusterSummary(
            cluster=c, count=int(clustering.sizes[c]), share=float(clustering.sizes[c] / n),
            mean_quality=float(totals[c] / scored[c]) if scored[c] else None,
            representative=int(representatives[c]),
        )
        for c in range(clustering.k)
    ]


def distribution_entropy(labels: Sequence[int] | np.ndarray, k: int) -> Entropy:
    """Shannon entropy of the label distribution over k categories, and its share of log k.

    One category (k = 1) or no labels give 0: a single cluster carries no diversity.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k})")
    if len(labels) == 0 or k <= 1:
        return Entropy(0.0, 0.0)
    shares = np.bincount(labels, minlength=k) / len(labels)
    shares = shares[shares > 0]
    entropy = float(max(0.0, -(shares * np.log(shares)).sum()))  # max(): -0.0 for one category
    return Entropy(entropy, min(1.0, entropy / math.log(k)))


def topic_coverage(
    topics: list[str], sample_vectors: np.ndarray, embed: Callable[[list[str]], np.ndarray], *,
    threshold: float = DEFAULT_TOPIC_THRESHOLD, min_samples: int = DEFAULT_TOPIC_MIN_SAMPLES, top_n: int = 5,
) -> TopicCoverage:
    """Share of `topics` the pool covers: a topic is covered when ≥ min_samples samples have
    cosine ≥ threshold with the topic phrase's embedding. An empty topic list is fully covered.

    Name topics as concrete tasks, not fields: on examples/pool.jsonl "geography" matches no
    sample above 0.40 (best 0.30) while "capital cities and countries" matches 4 (best 0.48).
    """
    if not topics:
        return TopicCoverage(1.0, [])
    points = unit_rows(sample_vectors)
    topic_vectors = unit_rows(embed(list(topics)))
    counts = np.zeros(len(topics), dtype=np.int64)
    # Each tile's own top_n are candidates; the few candidates are ranked at the end.
    candidate_sims, candidate_rows = [np.zeros((len(topics), 0), np.float32)], [np.zeros((len(topics), 0), np.int64)]
    for start in range(0, len(points), COLUMN_BLOCK):
        sims = topic_vectors @ points[start : start + COLUMN_BLOCK].T
        counts += (sims >= threshold).sum(axis=1)
        take = min(top_n, sims.shape[1])
        rows = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        candidate_sims.append(np.take_along_axis(sims, rows, axis=1))
        candidate_rows.append(rows + start)
    best_sim, best_idx = np.concatenate(candidate_sims, axis=1), np.concatenate(candidate_rows, axis=1)
    order = np.argsort(-best_sim, axis=1, kind="stable")[:, :top_n]
    best_sim = np.take_along_axis(best_sim, order, axis=1)
    best_idx = np.take_along_axis(best_idx, order, axis=1)
    matches = [
        TopicMatch(topic, int(counts[t]), bool(counts[t] >= min_samples),
                   [int(i) for i in best_idx[t]], [float(s) for s in best_sim[t]])
        for t, topic in enumerate(topics)
    ]
    return TopicCoverage(sum(m.covered for m in matches) / len(matches), matches)


def novelty(
    vectors: np.ndarray, reference_vectors: np.ndarray | None = None, k: int = 1, *,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """1 − mean cosine to each row's k nearest neighbours in the reference, as float32.

    With no reference the pool is its own reference and each row skips itself (an exact
    duplicate elsewhere still scores ~0). `exclude[i]` names one reference row for query
    row i to skip (−1: none). Fewer than k neighbours available: the mean of those there
    are; none at all: novelty 1.0 (nothing similar exists). Computed tile by tile.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    queries = unit_rows(vectors)
    reference = queries if reference_vectors is None else unit_rows(reference_vectors)
    if reference_vectors is None and exclude is None:
        exclude = np.arange(len(queries))
    k = min(k, len(reference))
    result = np.ones(len(queries), dtype=np.float32)
    if k == 0:
        return result
    for start in range(0, len(queries), ROW_BLOCK):
        block = queries[start : start + ROW_BLOCK]
        skip = None if exclude is None else np.asarray(exclude[start : start + ROW_BLOCK])
        nearest = np.full((len(block), 0), -np.inf, dtype=np.float32)
        for column in range(0, len(reference), COLUMN_BLOCK):
            sims = block @ reference[column : column + COLUMN_BLOCK].T
            if skip is not None:
                inside = np.flatnonzero((skip >= column) & (skip < column + sims.shape[1]))
                sims[inside, skip[inside] - column] = -np.inf
            nearest = np.concatenate([nearest, _top_values(sims, k)], axis=1)
            if nearest.shape[1] > k:
                nearest = _top_values(nearest, k)
        # An excluded row may be among the k kept (too small a reference): average the rest.
        found = np.isfinite(nearest)
        counts = found.sum(axis=1)
        means = np.where(found, nearest, 0.0).sum(axis=1) / np.maximum(counts, 1)
        result[start : start + len(block)] = np.where(counts > 0, 1.0 - means, 1.0)
    return np.clip(result, 0.0, 2.0)


def _top_values(matrix: np.ndarray, k: int) -> np.ndarray:
    """The k largest values of each row, in no particular order (all of them if fewer)."""
    if matrix.shape[1] <= k:
        return matrix
    if k == 1:  # max is several times faster than a partition
        return matrix.max(axis=1, keepdims=True)
    return np.partition(matrix, matrix.shape[1] - k, axis=1)[:, -k:]


class ClusterTagger:
    """Batch tool: keeps every sample and scores its `novelty` and `cluster` against a pool.

    Built once over the pool's ids and vectors (clustered here unless a Clustering is
    given). A pool member reuses its stored vector and label and skips itself in the
    novelty search; any other sample (a rewrite, a synthesis) is embedded with `embed` (the
    caller's embedder, the one that made `vectors`) and joins its nearest centroid.
    """

    name = "cluster_tagger"

    def __init__(
        self, ids: Sequence[str], vectors: np.ndarray, *, embed: Callable[[list[str]], np.ndarray],
        clustering: Clustering | None = None, neighbours: int = 1,
        n_clusters: int | None = None, seed: int = 0,
    ) -> None:
        self.vectors = unit_rows(vectors)
        if len(ids) != len(self.vectors):
            raise ValueError(f"{len(ids)} ids for {len(self.vectors)} vectors")
        self.row_of = {sample_id: row for row, sample_id in enumerate(ids)}
        self.clustering = clustering or cluster_pool(self.vectors, n_clusters, seed)
        self.neighbours = neighbours
        self._embed = embed

    @classmethod
    def from_samples(cls, pool: Sequence[Sample], embed: Callable[[list[str]], np.ndarray],
                     **options: object) -> ClusterTagger:
        """Embed the pool's texts with `embed` and build the tagger."""
        return cls([s.id for s in pool], embed([s.text() for s in pool]), embed=embed, **options)  # type: ignore[arg-type]

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        rows = np.array([self.row_of.get(s.id, -1) for s in batch], dtype=np.int64)
        batch_vectors = np.zeros((len(batch), self.vectors.shape[1]), dtype=np.float32)
        known = rows >= 0
        batch_vectors[known] = self.vectors[rows[known]]
        if not known.all():
            unknown = np.flatnonzero(~known)
            batch_vectors[unknown] = unit_rows(self._embed([batch[i].text() for i in unknown]))
        scores = novelty(batch_vectors, self.vectors, self.neighbours, exclude=rows)
        labels = np.full(len(batch), -1, dtype=np.int64)  # -1 only when the pool is empty
        labels[known] = self.clustering.labels[rows[known]]
        if not known.all() and self.clustering.k:
            labels[~known] = np.argmax(batch_vectors[~known] @ self.clustering.centroids.T, axis=1)
        return [Assessment(scores={"novelty": float(v), "cluster": float(c)}) for v, c in zip(scores, labels)]

