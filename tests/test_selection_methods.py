"""DEITA, k-center, random and the shared constraints: size, floor, quotas, seeds, oracles."""

from __future__ import annotations

import numpy as np
import pytest

from assay.tools.selection import METHODS, select
from assay.tools.selection import deita as deita_module
from assay.tools.selection.base import Constraints, LabelSets, Pool
from assay.tools.selection.label_graph import label_adjacency, propagation_matrix
from assay.tools.selection.synthetic import synthetic_pool, synthetic_vectors


@pytest.fixture(scope="module")
def pool() -> Pool:
    return synthetic_pool(600, n_labels=40, seed=1, vectors=True, dim=32)


def naive_deita(vectors: np.ndarray, quality: np.ndarray, n: int, threshold: float) -> list[int]:
    """Score-first diversity filter, one candidate at a time against every kept one."""
    order = sorted(range(len(vectors)), key=lambda i: (-quality[i], i))
    kept: list[int] = []
    for i in order:
        if len(kept) == n:
            break
        if all(float(np.dot(vectors[i].astype(np.float64), vectors[j].astype(np.float64))) <= threshold for j in kept):
            kept.append(i)
    return kept


def naive_kcenter(vectors: np.ndarray, n: int, first: int) -> list[int]:
    """Farthest-first traversal, recomputing every distance from scratch each step."""
    chosen = [first]
    while len(chosen) < n:
        def nearest(i: int) -> float:
            return min(float(np.linalg.norm(vectors[i].astype(np.float64) - vectors[c])) for c in chosen)
        rest = [i for i in range(len(vectors)) if i not in chosen]
        chosen.append(max(rest, key=lambda i: (nearest(i), -i)))
    return chosen


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_exactly_n_distinct_picks_and_is_deterministic(pool: Pool, method: str) -> None:
    first = select(method, pool, 50, seed=7)
    again = select(method, pool, 50, seed=7)
    assert len(first.indices) == 50 and len(set(first.indices.tolist())) == 50
    assert first.indices.tolist() == again.indices.tolist()
    assert not first.warnings


@pytest.mark.parametrize("method", ["kcenter", "random"])
def test_the_seed_changes_seeded_methods(pool: Pool, method: str) -> None:
    assert select(method, pool, 30, seed=1).indices.tolist() != select(method, pool, 30, seed=2).indices.tolist()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_respects_the_floor_and_both_quotas(pool: Pool, method: str) -> None:
    rules = Constraints(min_quality=3.0, max_per_cluster=6, max_per_tag=9)
    picked = select(method, pool, 60, constraints=rules, seed=3)
    assert len(picked.indices) == 60
    assert pool.quality[picked.indices].min() >= 3.0
    assert np.bincount(pool.clusters[picked.indices]).max() <= 6
    assert np.bincount(np.concatenate([pool.labels.row(i) for i in picked.indices])).max() <= 9


@pytest.mark.parametrize("method", METHODS)
def test_too_few_qualifying_returns_all_of_them_with_a_warning(pool: Pool, method: str) -> None:
    qualifying = int((pool.quality >= 4.8).sum())
    picked = select(method, pool, qualifying + 20, constraints=Constraints(min_quality=4.8))
    assert sorted(picked.indices.tolist()) == np.flatnonzero(pool.quality >= 4.8).tolist()
    (warning,) = picked.warnings
    assert f"only {qualifying} of the {qualifying + 20}" in warning and "quality floor 4.8" in warning


def test_quotas_can_be_what_limits_the_size(pool: Pool) -> None:
    picked = select("random", pool, 500, constraints=Constraints(max_per_cluster=2))
    clusters = len(np.unique(pool.clusters))
    assert len(picked.indices) == 2 * clusters
    assert "at most 2 per cluster" in picked.warnings[0]


@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_deita_matches_the_naive_filter(pool: Pool, threshold: float, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small tiles so the run crosses block and kept-tile boundaries.
    monkeypatch.setattr(deita_module, "MAX_BLOCK", 64)
    monkeypatch.setattr(deita_module, "KEPT_TILE", 16)
    expected = naive_deita(pool.vectors, pool.quality, 120, threshold)
    picked = select("deita", pool, 120, deita_threshold=threshold)
    assert picked.indices.tolist() == expected
    kept = pool.vectors[picked.indices]
    sims = kept @ kept.T
    np.fill_diagonal(sims, -1)
    assert sims.max() <= threshold + 1e-6
    assert np.all(picked.gains <= threshold + 1e-6) and np.isinf(picked.gains[0])


def test_deita_walks_by_score_and_skips_near_copies() -> None:
    vectors = np.array([[1, 0], [0.99, 0.141], [0, 1], [0.6, 0.8]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picked = select("deita", Pool(size=4, quality=np.array([5.0, 4.0, 3.0, 2.0]), vectors=vectors), 3)
    assert picked.indices.tolist() == [0, 2, 3]  # 1 is a near copy of 0 (cosine 0.99)


def test_deita_without_quality_keeps_input_order() -> None:
    vectors, _ = synthetic_vectors(50, np.random.default_rng(0), dim=16, centres=4)
    picked = select("deita", Pool(size=50, vectors=vectors), 10, deita_threshold=0.99)
    assert picked.indices.tolist() == list(range(10))


def test_kcenter_matches_the_naive_traversal(pool: Pool) -> None:
    picked = select("kcenter", pool, 25, seed=4)
    assert picked.indices.tolist() == naive_kcenter(pool.vectors, 25, int(picked.indices[0]))
    assert np.isinf(picked.gains[0]) and np.all(np.diff(picked.gains[1:]) <= 1e-9)


def test_kcenter_and_random_need_no_quality(pool: Pool) -> None:
    bare = Pool(size=pool.size, vectors=pool.vectors)
    assert len(select("kcenter", bare, 10).indices) == 10
    assert len(select("random", Pool(size=5), 3).indices) == 3


def test_vectors_are_required_where_a_method_needs_them() -> None:
    with pytest.raises(ValueError, match="deita needs sample embeddings"):
        select("deita", Pool(size=3, quality=np.ones(3)), 2)
    with pytest.raises(ValueError, match="unknown method"):
        select("best", Pool(size=3), 2)
    with pytest.raises(ValueError, match="quality floor needs quality"):
        select("random", Pool(size=3), 2, constraints=Constraints(min_quality=1))


def test_label_sets_merge_repeats_and_take_rows() -> None:
    labels = LabelSets.from_lists([["b", "a", "b"], [], ["c"]])
    assert labels.names == ("a", "b", "c")
    assert [labels.row(i).tolist() for i in range(3)] == [[0, 1], [], [2]]
    taken = labels.take(np.array([2, 0, 2]))
    assert [taken.row(i).tolist() for i in range(3)] == [[2], [0, 1], [2]]


def test_label_graph_links_labels_at_the_threshold_and_normalises_columns() -> None:
    vectors = np.array([[1, 0, 0], [0.9, np.sqrt(1 - 0.81), 0], [0.89, np.sqrt(1 - 0.89**2), 0], [0, 0, 1]])
    adjacency = label_adjacency(vectors, 0.9).toarray()
    assert np.allclose(np.diag(adjacency), 1.0)
    assert adjacency[0, 1] == pytest.approx(0.9) and adjacency[1, 0] == pytest.approx(0.9)
    assert adjacency[0, 2] == 0 and adjacency[0, 3] == 0  # 0.89 is under the threshold
    propagation = propagation_matrix(label_adjacency(vectors, 0.9)).toarray()
    assert np.allclose(propagation.sum(axis=0), 1.0)
