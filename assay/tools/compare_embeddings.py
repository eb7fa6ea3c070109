"""The higher-order structure of two sets, on sentence embeddings: MMD, Fréchet distance, k-NN precision/recall, novelty.

- Kernel MMD² (Gretton et al. 2012), unbiased, with a Gaussian kernel whose bandwidth is the
  median pairwise distance of the pooled set, and a permutation p-value: how often a random
  split of the pooled samples is at least as far apart as the real one. A high p-value means
  the sets are indistinguishable at this size.
- Fréchet distance between Gaussians fitted to each set (as FID/FBD do on their features).
- Precision and recall of B against A with k-NN manifolds (Kynkäänniemi et al. 2019): the share
  of B inside A's manifold (each A point's ball reaching its k-th nearest A neighbour), and of
  A inside B's. Low precision: B has samples unlike anything in A; low recall: B misses parts of A.
- Novelty: each B sample's cosine to its nearest A sample (1.0: a copy of a seed).
Every random choice takes the caller's `numpy.random.Generator`, so results repeat exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROW_BLOCK = 2048  # rows of a distance matrix computed at once: bounds memory on large sets
NEAR_COPY = 0.95  # nearest-seed cosine at or above which a synthetic sample is counted a near copy


@dataclass(frozen=True)
class MMDResult:
    """The unbiased MMD² estimate, its permutation p-value and the kernel bandwidth used."""

    mmd2: float
    p_value: float
    bandwidth: float
    permutations: int


def squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances (clipped at 0 against rounding)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
    return np.maximum(d, 0.0)


def median_bandwidth(z: np.ndarray, rng: np.random.Generator, sample: int = 1000) -> float:
    """The median heuristic: median pairwise distance over (a seeded sample of) the pooled points."""
    rows = z if len(z) <= sample else z[rng.choice(len(z), sample, replace=False)]
    d = squared_distances(rows, rows)[np.triu_indices(len(rows), k=1)]
    positive = d[d > 0]
    return float(np.sqrt(np.median(positive))) if len(positive) else 1.0


def mmd_test(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, permutations: int = 200,
             bandwidth: float | None = None) -> MMDResult:
    """Unbiased MMD² between the rows of x and y, with a permutation p-value ((1 + #≥) / (1 + P))."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("MMD needs at least two samples in each set")
    z = np.concatenate([x, y]).astype(np.float64)
    sigma = bandwidth if bandwidth is not None else median_bandwidth(z, rng)
    kernel = np.exp(-squared_distances(z, z) / (2 * sigma * sigma))
    np.fill_diagonal(kernel, 0.0)  # the unbiased estimator leaves out k(x_i, x_i)
    labels = np.zeros((m + n, permutations + 1))
    labels[:m, 0] = 1.0  # column 0: the real split; the rest: random splits of the same sizes
    for p in range(1, permutations + 1):
        labels[rng.permutation(m + n)[:m], p] = 1.0
    # All splits at once as quadratic forms: a'Ka, b'Kb, a'Kb with b = 1 - a.
    ka = kernel @ labels
    k1 = kernel.sum(1)
    within_a = (labels * ka).sum(0)
    across = ((1 - labels) * ka).sum(0)
    within_b = k1.sum() - 2 * (labels.T @ k1) + within_a
    stats = within_a / (m * (m - 1)) + within_b / (n * (n - 1)) - 2 * across / (m * n)
    observed = stats[0]
    # a small tolerance: a permuted split equal to the real one must count as "at least as far"
    p_value = (1 + int((stats[1:] >= observed - 1e-12).sum())) / (1 + permutations)
    return MMDResult(float(observed), float(p_value), float(sigma), permutations)


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """||μx − μy||² + tr(Σx + Σy − 2(Σx Σy)^½), through symmetric eigendecompositions (stable, real)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean_gap = float(((x.mean(0) - y.mean(0)) ** 2).sum())
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    values, vectors = np.linalg.eigh(cov_x)
    root_x = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    # tr((Σx Σy)^½) = Σ √λ of the symmetric PSD matrix Σx^½ Σy Σx^½
    middle = np.linalg.eigvalsh(root_x @ cov_y @ root_x)
    trace_root = float(np.sqrt(np.clip(middle, 0, None)).sum())
    return max(0.0, mean_gap + float(np.trace(cov_x) + np.trace(cov_y)) - 2 * trace_root)


def kth_neighbour_radius(points: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest other point of the same set."""
    k = min(k, len(points) - 1)
    if k < 1:
        raise ValueError("k-NN radii need at least two points")
    radii = np.empty(len(points))
    for start in range(0, len(points), ROW_BLOCK):
        d = squared_distances(points[start:start + ROW_BLOCK], points)
        # column k of the sorted row: column 0 is the point itself (distance 0)
        radii[start:start + ROW_BLOCK] = np.sqrt(np.partition(d, k, axis=1)[:, k])
    return radii


def inside_manifold(queries: np.ndarray, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each query, whether it lies in some point's ball (distance ≤ that point's radius)."""
    inside = np.zeros(len(queries), dtype=bool)
    for start in range(0, len(queries), ROW_BLOCK):
        d = np.sqrt(squared_distances(queries[start:start + ROW_BLOCK], points))
        inside[start:start + ROW_BLOCK] = (d <= radii[None, :] + 1e-9).any(1)
    return inside


def precision_recall(real: np.ndarray, synthetic: np.ndarray, k: int = 5) -> tuple[float, float]:
    """k-NN precision (share of synthetic inside the real manifold) and recall (real inside the synthetic one)."""
    precision = inside_manifold(synthetic, real, kth_neighbour_radius(real, k)).mean()
    recall = inside_manifold(real, synthetic, kth_neighbour_radius(synthetic, k)).mean()
    return float(precision), float(recall)


def nearest_cosine(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Each query's cosine similarity to its nearest reference (rows are normalised here)."""
    def unit(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norms > 0, norms, 1.0)

    q, r = unit(queries), unit(references)
    best = np.empty(len(q))
    for start in range(0, len(q), ROW_BLOCK):
        best[start:start + ROW_BLOCK] = (q[start:start + ROW_BLOCK] @ r.T).max(1)
    return best


def novelty(synthetic: np.ndarray, seeds: np.ndarray) -> dict[str, float]:
    """Nearest-seed cosine of the synthetic samples: mean, median, and the share of near copies."""
    best = nearest_cosine(synthetic, seeds)
    return {"mean_nn_cosine": float(best.mean()), "median_nn_cosine": float(np.median(best)),
            "near_copy_share": float((best >= NEAR_COPY).mean()), "near_copy_threshold": NEAR_COPY}
