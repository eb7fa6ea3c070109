"""MIG: our sparse lazy greedy picks what the paper's equations, transcribed naively, pick."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.tools.selection import MigOptions, select
from assay.tools.selection.base import Admission, Constraints, LabelSets, Pool
from assay.tools.selection.label_graph import information_matrix, label_adjacency, propagation_matrix
from assay.tools.selection.mig import PowerPhi, information_value, lazy_greedy, plain_greedy
from assay.tools.selection.synthetic import synthetic_label_vectors, synthetic_labels


def oracle_mig(label_vectors: np.ndarray, rows: list[list[int]], quality: list[float], n: int, *,
               threshold: float = 0.9, a: float = 1e-6, b: float = 0.8, gain: str = "gradient") -> list[int]:
    """The paper's equations in plain Python, dense and unoptimised: the reference for the fast code.

    W[i][j] = cos(e_i, e_j) if ≥ threshold else 0, self-loops 1; P = W with columns summing
    to 1; V[x][l] = s_x on x's labels; I = V·P; E(S) = Σ_l Φ(Σ_{x∈S} I[x][l]),
    Φ(t) = (t + a)^b. Each step adds argmax_x gain(x) (first maximum on ties), where gain is
    ∇E · I[x] ("gradient", the paper's sampler) or E(S ∪ {x}) − E(S) ("exact").
    """
    n_labels = len(label_vectors)
    vectors = [[float(v) for v in row] for row in label_vectors]
    weights = [[0.0] * n_labels for _ in range(n_labels)]
    for i in range(n_labels):
        for j in range(n_labels):
            cosine = sum(p * q for p, q in zip(vectors[i], vectors[j], strict=True))
            weights[i][j] = 1.0 if i == j else (cosine if cosine >= threshold else 0.0)
    column_sums = [sum(weights[i][j] for i in range(n_labels)) for j in range(n_labels)]
    propagation = [[weights[i][j] / column_sums[j] for j in range(n_labels)] for i in range(n_labels)]
    values = [[quality[x] if label in rows[x] else 0.0 for label in range(n_labels)] for x in range(len(rows))]
    information = [[sum(values[x][k] * propagation[k][j] for k in range(n_labels)) for j in range(n_labels)]
                   for x in range(len(rows))]

    def phi(t: float) -> float:
        return (t + a) ** b

    def energy(totals: list[float]) -> float:
        return sum(phi(t) for t in totals)

    totals = [0.0] * n_labels
    chosen: list[int] = []
    for _ in range(min(n, len(rows))):
        best, best_gain = -1, -math.inf
        for x in range(len(rows)):
            if x in chosen:
                continue
            if gain == "gradient":
                value = sum(b * (totals[j] + a) ** (b - 1) * information[x][j] for j in range(n_labels))
            else:
                value = energy([t + i for t, i in zip(totals, information[x], strict=True)]) - energy(totals)
            if value > best_gain:
                best, best_gain = x, value
        chosen.append(best)
        totals = [t + i for t, i in zip(totals, information[best], strict=True)]
    return chosen


def small_case(seed: int, n: int = 40, n_labels: int = 12, duplicates: int = 0) -> tuple[Pool, list[list[int]], list[float]]:
    rng = np.random.default_rng(seed)
    labels = synthetic_labels(n, n_labels, rng, max_tags=3, zipf=0.8)
    label_vectors = synthetic_label_vectors(n_labels, rng, dim=8, family=3, spread=0.25)
    quality = np.round(rng.uniform(1.0, 5.0, size=n), 2)
    if duplicates:  # exact copies of earlier candidates: ties only the index can break
        copies = rng.integers(0, n, size=duplicates)
        labels = labels.take(np.concatenate([np.arange(n), copies]))
        quality = np.concatenate([quality, quality[copies]])
    rows = [labels.row(i).tolist() for i in range(labels.n_rows)]
    pool = Pool(size=len(rows), quality=quality, labels=labels, label_vectors=label_vectors)
    return pool, rows, quality.tolist()


def fast_information(pool: Pool) -> object:
    return information_matrix(pool.labels, pool.quality, propagation_matrix(label_adjacency(pool.label_vectors)))


@pytest.mark.parametrize("gain", ["gradient", "exact"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_lazy_and_plain_greedy_pick_what_the_oracle_picks_in_the_same_order(seed: int, gain: str) -> None:
    pool, rows, quality = small_case(seed)
    assert label_adjacency(pool.label_vectors).nnz > len(pool.label_vectors), "the case must have real edges"
    expected = oracle_mig(pool.label_vectors, rows, quality, 25, gain=gain)
    information = fast_information(pool)
    lazy = lazy_greedy(information, 25, Admission(pool, Constraints()), gain=gain)
    plain = plain_greedy(information, 25, Admission(pool, Constraints()), gain=gain)
    assert lazy.indices.tolist() == expected
    assert plain.indices.tolist() == expected
    assert lazy.gains.tolist() == plain.gains.tolist()  # bit-identical, not just close
    assert lazy.evaluations < plain.evaluations


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_exact_ties_go_to_the_lowest_index(seed: int) -> None:
    pool, rows, quality = small_case(seed, n=20, duplicates=20)
    expected = oracle_mig(pool.label_vectors, rows, quality, 30)
    information = fast_information(pool)
    lazy = lazy_greedy(information, 30, Admission(pool, Constraints()))
    assert lazy.indices.tolist() == expected
    assert lazy.indices.tolist() == plain_greedy(information, 30, Admission(pool, Constraints())).indices.tolist()
    # Every copy comes after its original: the original has the lower index and the same gain.
    for copy in range(20, 40):
        original = next(i for i in range(20) if rows[i] == rows[copy] and quality[i] == quality[copy])
        if copy in lazy.indices:
            assert original in lazy.indices and lazy.indices.tolist().index(original) < lazy.indices.tolist().index(copy)


def test_all_equal_candidates_come_out_in_index_order() -> None:
    labels = LabelSets.from_lists([["x"]] * 6)
    pool = Pool(size=6, quality=np.ones(6), labels=labels, label_vectors=np.ones((1, 4), np.float32) / 2)
    assert select("mig", pool, 4).indices.tolist() == [0, 1, 2, 3]


def test_the_gain_shrinks_as_the_selection_grows_and_the_objective_beats_random() -> None:
    pool, _, _ = small_case(11, n=200, n_labels=30)
    information = fast_information(pool)
    run = lazy_greedy(information, 60, Admission(pool, Constraints()))
    assert np.all(np.diff(run.gains) <= 1e-12)
    rng = np.random.default_rng(0)
    random_values = [information_value(information, rng.choice(200, 60, replace=False)) for _ in range(20)]
    assert information_value(information, run.indices) > max(random_values)


def test_a_new_label_beats_more_of_a_covered_one() -> None:
    # Candidate 0 (quality 5) on "a" goes first; then "b" at quality 1 beats "a" again at quality 4.
    labels = LabelSets.from_lists([["a"], ["a"], ["b"]])
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    pool = Pool(size=3, quality=np.array([5.0, 4.0, 1.0]), labels=labels, label_vectors=vectors)
    assert select("mig", pool, 3).indices.tolist() == [0, 2, 1]


def test_propagation_spreads_quality_to_linked_labels() -> None:
    # "a" and "b" are near-synonyms (cosine 0.95), "c" is unrelated: a sample on "a" also covers "b".
    vectors = np.array([[1.0, 0.0, 0.0], [0.95, np.sqrt(1 - 0.95**2), 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    labels = LabelSets.from_lists([["a"], ["b"], ["c"]])
    pool = Pool(size=3, quality=np.array([3.0, 2.9, 2.0]), labels=labels, label_vectors=vectors)
    information = fast_information(pool).toarray()
    assert information[0, 1] > 0 and information[0, 2] == 0
    # With the graph, "c" comes before "b" (b's ground is half covered by a); without it, b first.
    assert select("mig", pool, 3).indices.tolist() == [0, 2, 1]
    unlinked = select("mig", pool, 3, mig=MigOptions(off_diagonal_weight=0.0))
    assert unlinked.indices.tolist() == [0, 1, 2]


def test_mig_respects_the_floor_and_quotas() -> None:
    rng = np.random.default_rng(3)
    labels = synthetic_labels(300, 20, rng, max_tags=2)
    pool = Pool(size=300, quality=rng.uniform(1, 5, 300), clusters=rng.integers(0, 5, 300), labels=labels,
                label_vectors=synthetic_label_vectors(20, rng))
    picked = select("mig", pool, 40, constraints=Constraints(min_quality=2.5, max_per_cluster=9, max_per_tag=6))
    assert len(picked.indices) == 40 and not picked.warnings
    assert pool.quality[picked.indices].min() >= 2.5
    assert np.bincount(pool.clusters[picked.indices]).max() <= 9
    assert np.bincount(np.concatenate([labels.row(i) for i in picked.indices])).max() <= 6


def test_quotas_give_the_same_picks_as_plain_greedy_under_quotas() -> None:
    pool, _, _ = small_case(9, n=120, n_labels=15)
    pool = Pool(size=pool.size, quality=pool.quality, clusters=np.arange(pool.size) % 7, labels=pool.labels,
                label_vectors=pool.label_vectors)
    rules = Constraints(max_per_cluster=4, max_per_tag=5)
    information = fast_information(pool)
    lazy = lazy_greedy(information, 30, Admission(pool, rules))
    plain = plain_greedy(information, 30, Admission(pool, rules))
    assert lazy.indices.tolist() == plain.indices.tolist()


def test_without_tags_mig_falls_back_to_clusters_and_says_so() -> None:
    pool = Pool(size=8, quality=np.array([5, 4.9, 4.8, 1, 1, 1, 1, 1.0]), clusters=np.array([0, 0, 0, 1, 1, 2, 2, 3]))
    picked = select("mig", pool, 4)
    assert picked.indices.tolist() == [0, 3, 5, 7]  # one per cluster before a second from cluster 0
    assert any("clusters as labels" in note for note in picked.notes)


def test_negative_quality_is_refused() -> None:
    pool = Pool(size=2, quality=np.array([1.0, -1.0]), clusters=np.array([0, 1]))
    with pytest.raises(ValueError, match="≥ 0"):
        select("mig", pool, 1)


def test_phi_defaults_are_the_papers() -> None:
    phi = PowerPhi()
    assert (phi.a, phi.b) == (1e-6, 0.8)
    assert phi.slope(np.array([0.0]))[0] == pytest.approx(0.8 * 1e-6 ** -0.2)
