"""Coverage and diversity metrics: clustering, reports, entropy, topic coverage, novelty, tagger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.core.records import Message, Sample
from assay.tools import coverage
from assay.tools.coverage import (
    ClusterTagger, cluster_pool, cluster_report, default_cluster_count, distribution_entropy, novelty,
    topic_coverage, unit_rows,
)
from tests.conftest import EXAMPLES

DIM = 384


def blobs(centres: int, per_blob: int, spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors scattered tightly around random, nearly orthogonal directions."""
    rng = np.random.default_rng(seed)
    directions = unit_rows(rng.normal(size=(centres, DIM)))
    truth = np.repeat(np.arange(centres), per_blob)
    points = directions[truth] + spread * rng.normal(size=(len(truth), DIM)) / math.sqrt(DIM)
    return unit_rows(points), truth


def sample(text: str) -> Sample:
    return Sample.create([Message(role="user", content=text), Message(role="assistant", content="ok")])


def test_separates_blobs_into_pure_clusters_numbered_by_size() -> None:
    points, truth = blobs(centres=4, per_blob=30)
    points, truth = points[:-10], truth[:-10]  # the last blob is smaller, so it must be cluster 3
    result = cluster_pool(points, k=4, seed=0)
    assert result.k == 4
    for c in range(4):
        assert len(set(truth[result.labels == c])) == 1, f"cluster {c} mixes blobs"
    assert result.sizes.tolist() == [30, 30, 30, 20]
    assert set(truth[result.labels == 3]) == {3}
    assert np.allclose(np.linalg.norm(result.centroids, axis=1), 1.0, atol=1e-5)
    assert (result.centroid_similarity > 0.99).all()


def test_clustering_is_deterministic_under_a_seed() -> None:
    points = unit_rows(np.random.default_rng(3).normal(size=(200, DIM)))
    first, second = cluster_pool(points, k=7, seed=11), cluster_pool(points, k=7, seed=11)
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.centroids, second.centroids)


def test_large_pools_take_the_mini_batch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coverage, "MINIBATCH_ABOVE", 50)
    points, truth = blobs(centres=3, per_blob=40, seed=5)
    result = cluster_pool(points, k=3, seed=0, threads=1)
    assert all(len(set(truth[result.labels == c])) == 1 for c in range(3))
    assert np.array_equal(result.labels, cluster_pool(points, k=3, seed=0, threads=1).labels)


def test_default_k_rule() -> None:
    assert [default_cluster_count(n) for n in (1, 2, 8, 200, 5000, 100_000, 10**7)] == [1, 2, 2, 10, 50, 224, 256]
    assert cluster_pool(blobs(2, 100)[0]).k == 10


@pytest.mark.parametrize("n, k, expected_k", [(1, None, 1), (3, 10, 3), (0, None, 0)])
def test_tiny_pools(n: int, k: int | None, expected_k: int) -> None:
    points = unit_rows(np.random.default_rng(0).normal(size=(n, DIM)))
    result = cluster_pool(points, k=k)
    assert result.k == expected_k
    assert sorted(result.labels.tolist()) == list(range(n))  # every point alone
    assert [s.count for s in cluster_report(result)] == [1] * n


def test_identical_vectors_collapse_to_one_cluster() -> None:
    points = np.tile(unit_rows(np.random.default_rng(1).normal(size=(1, DIM))), (20, 1))
    result = cluster_pool(points, k=5)
    assert result.k == 1 and result.sizes.tolist() == [20]
    assert distribution_entropy(result.labels, result.k).normalised == 0.0


def test_cluster_report_counts_shares_quality_and_representative() -> None:
    points, truth = blobs(centres=2, per_blob=10, spread=0.3)
    result = cluster_pool(points, k=2, seed=0)
    big_blob = truth[result.labels == 0][0]
    quality: list[float | None] = [(4.0 if t == big_blob else None) for t in truth]
    quality[int(np.flatnonzero(result.labels == 0)[0])] = 1.0  # one low score in cluster 0
    report = cluster_report(result, quality)
    assert [(r.cluster, r.count, r.share) for r in report] == [(0, 10, 0.5), (1, 10, 0.5)]
    assert report[0].mean_quality == pytest.approx((9 * 4.0 + 1.0) / 10)
    assert report[1].mean_quality is None
    for row in report:
        members = np.flatnonzero(result.labels == row.cluster)
        cosines = points[members] @ result.centroids[row.cluster]
        assert row.representative == members[np.argmax(cosines)]
    with pytest.raises(ValueError, match="quality has 3 values"):
        cluster_report(result, [1.0, 2.0, 3.0])


def test_entropy_even_single_and_uneven() -> None:
    assert distribution_entropy([0, 1, 2, 3] * 5, 4).normalised == pytest.approx(1.0)
    assert distribution_entropy([2] * 12, 4) == coverage.Entropy(0.0, 0.0)
    uneven = distribution_entropy([0, 0, 1], 2)
    expected = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert uneven.entropy == pytest.approx(expected)
    assert uneven.normalised == pytest.approx(expected / math.log(2))
    assert distribution_entropy([0, 0], 1).normalised == 0.0
    assert distribution_entropy([], 5).entropy == 0.0
    with pytest.raises(ValueError):
        distribution_entropy([0, 5], 5)


def test_novelty_of_a_duplicate_is_zero_and_of_an_outlier_high() -> None:
    points, _ = blobs(centres=3, per_blob=20, spread=0.4)
    outlier = -points.mean(axis=0, keepdims=True)  # pointing away from every blob
    pool = np.vstack([points, points[:1], unit_rows(outlier)])
    scores = novelty(pool)
    assert scores[0] == pytest.approx(0.0, abs=1e-5) and scores[60] == pytest.approx(0.0, abs=1e-5)
    assert scores[61] > 0.9
    assert np.median(scores[1:60]) < 0.2
    assert scores.dtype == np.float32


def test_novelty_tiles_match_a_dense_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    pool = unit_rows(rng.normal(size=(300, 16)))
    reference = unit_rows(rng.normal(size=(250, 16)))
    dense_self = pool @ pool.T
    np.fill_diagonal(dense_self, -np.inf)
    dense_reference = pool @ reference.T
    monkeypatch.setattr(coverage, "ROW_BLOCK", 64)
    monkeypatch.setattr(coverage, "COLUMN_BLOCK", 37)
    for k in (1, 3):
        expected_self = 1 - np.sort(dense_self, axis=1)[:, -k:].mean(axis=1)
        expected_reference = 1 - np.sort(dense_reference, axis=1)[:, -k:].mean(axis=1)
        assert np.allclose(novelty(pool, k=k), expected_self, atol=1e-5)
        assert np.allclose(novelty(pool, reference, k=k), expected_reference, atol=1e-5)


def test_novelty_edge_cases() -> None:
    one = unit_rows(np.ones((1, DIM)))
    assert novelty(one).tolist() == [1.0]  # nothing to compare with
    assert novelty(one, np.zeros((0, DIM))).tolist() == [1.0]
    assert novelty(np.zeros((0, DIM))).shape == (0,)
    two = np.vstack([one, -one])
    assert novelty(two, k=5).tolist() == pytest.approx([2.0, 2.0])  # k capped at what exists
    # the only reference row is the query itself, excluded: nothing left
    assert novelty(one, one, exclude=np.array([0])).tolist() == [1.0]
    assert novelty(one, one, exclude=np.array([-1])).tolist() == pytest.approx([0.0], abs=1e-6)


def fake_embedder(table: dict[str, np.ndarray]):  # noqa: ANN201
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.stack([table[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    return embed, calls


def test_topic_coverage_counts_and_best_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    points, truth = blobs(centres=3, per_blob=8, spread=0.5)
    directions = unit_rows(np.vstack([points[truth == c].mean(axis=0) for c in range(3)]))
    far = unit_rows(np.random.default_rng(9).normal(size=(1, DIM)))[0]
    embed, _ = fake_embedder({"a": directions[0], "b": directions[1], "c": directions[2], "none": far})
    monkeypatch.setattr(coverage, "COLUMN_BLOCK", 5)
    result = topic_coverage(["a", "b", "none"], points[truth != 2], embed, threshold=0.5, min_samples=3, top_n=4)
    assert result.coverage == pytest.approx(2 / 3)
    assert result.uncovered == ["none"]
    assert [m.count for m in result.topics] == [8, 8, 0]
    kept = np.flatnonzero(truth != 2)
    assert all(truth[kept[i]] == 0 for i in result.topics[0].best_indices)
    assert len(result.topics[0].best_indices) == 4
    assert result.topics[0].best_similarities == sorted(result.topics[0].best_similarities, reverse=True)
    assert topic_coverage(["c"], points, embed, threshold=0.5, min_samples=9).coverage == 0.0
    assert topic_coverage([], points, embed).coverage == 1.0
    nothing = topic_coverage(["a"], np.zeros((0, DIM)), embed)
    assert nothing.coverage == 0.0 and nothing.topics[0].best_indices == []


def test_topic_coverage_with_the_real_embedder_on_example_texts() -> None:
    from assay.session.embeddings import Embedder
    from assay.pipeline.intake.ingest import read_inputs

    pool = read_inputs([EXAMPLES / "pool.jsonl"], skip_invalid=False, max_record_bytes=16_000_000).samples
    wanted = ("SQL", "query", "Python", "recipe", "cook", "bake")
    texts = [s.text() for s in pool if any(w in s.instruction for w in wanted)]
    embedder = Embedder()
    # 40 texts: two on-topic samples make coverage here (second-best cosines 0.42 and 0.43
    # against the 0.40 default); "French cooking" peaks at 0.37 among the cooking questions.
    result = topic_coverage(["SQL queries", "cooking recipes", "French cooking", "Kubernetes deployment"],
                            embedder.encode(texts), embedder.encode, min_samples=2)
    assert [m.covered for m in result.topics] == [True, True, False, False]
    assert result.coverage == 0.5
    assert "SQL" in texts[result.topics[0].best_indices[0]]
    assert result.topics[3].best_similarities[0] < 0.2


def test_cluster_tagger_scores_pool_members_and_newcomers() -> None:
    points, truth = blobs(centres=2, per_blob=6, spread=0.3)
    pool = [sample(f"pool {i}") for i in range(len(points))]
    newcomer, twin = sample("new"), sample("twin of pool 0")
    embed, calls = fake_embedder({"new\n\nok": -points[0], "twin of pool 0\n\nok": points[0]})
    tagger = ClusterTagger([s.id for s in pool], points, embed=embed, n_clusters=2)
    verdicts = tagger([pool[0], pool[7], newcomer, twin])
    assert calls == [["new\n\nok", "twin of pool 0\n\nok"]]  # pool members reuse their vectors
    assert all(v.keep and set(v.scores) == {"novelty", "cluster"} for v in verdicts)
    clusters = [v.scores["cluster"] for v in verdicts]
    assert clusters[0] == tagger.clustering.labels[0] and clusters[1] == tagger.clustering.labels[7]
    assert clusters[0] != clusters[1]  # different blobs
    assert clusters[3] == clusters[0]
    # float32 tiles of different shapes round differently, hence the float32-sized tolerance
    assert verdicts[0].scores["novelty"] == pytest.approx(float(novelty(points)[0]), abs=1e-5)  # skipped itself
    assert verdicts[3].scores["novelty"] == pytest.approx(0.0, abs=1e-5)
    assert verdicts[2].scores["novelty"] > 0.9
    assert tagger([]) == []
