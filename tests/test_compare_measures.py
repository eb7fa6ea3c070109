"""The comparison measures (assay.tools.compare_*), on arrays and texts with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.core.records import Message, Sample
from assay.tools.compare_dependencies import compare_dependency, spearman
from assay.tools.compare_diversity import distinct_n, mean_pairwise_cosine, self_bleu
from assay.tools.compare_embeddings import frechet_distance, mmd_test, nearest_cosine, novelty, precision_recall
from assay.tools.compare_features import SetFeatures, hash_sample, language
from assay.tools.compare_marginals import compare_categorical, compare_numeric, js_distance
from assay.tools.compare_sets import CompareSettings, compare_sets


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_jensen_shannon_is_zero_for_equal_shares_and_one_for_disjoint_ones() -> None:
    assert js_distance([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-12)
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        js_distance([0, 0], [1, 1])


def test_a_shuffled_copy_has_the_same_marginals_and_a_shift_shows_in_standard_deviations() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(3, 1, 500)
    same = compare_numeric("len", values, rng.permutation(values))
    assert same.js == 0.0 and same.wasserstein == 0.0 and same.mean_a == same.mean_b
    base = rng.normal(0, 1, 4000)
    shifted = compare_numeric("x", base, base + 0.5)
    assert shifted.wasserstein == pytest.approx(0.5 / np.concatenate([base, base + 0.5]).std(), rel=1e-6)
    assert shifted.js > 0.1
    assert sum(shifted.shares_a) == pytest.approx(1.0) and len(shifted.labels) == len(shifted.shares_b)


def test_categorical_shares_keep_the_commonest_and_fold_the_rest() -> None:
    a = ["en"] * 8 + ["fr", "de"]
    found = compare_categorical("language", a, list(reversed(a)), top=2)
    assert found.js == 0.0 and found.labels == ["en", "de", "other"]
    assert found.shares_a == pytest.approx([0.8, 0.1, 0.1])
    assert compare_categorical("language", ["en"] * 5, ["fr"] * 5).js == pytest.approx(1.0)


def test_dependencies_compare_rank_correlations_and_the_joint_shape() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 100, 400)
    assert spearman(x, 2 * x) == pytest.approx(1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1, 2], [2, 1]) is None
    order = rng.permutation(400)
    same = compare_dependency("d", x, 3 * x, x[order], 3 * x[order])
    assert same.difference == pytest.approx(0.0) and same.joint_js == pytest.approx(0.0, abs=1e-12)
    # The same marginals paired the other way round: only the dependency measures see it.
    flipped = compare_dependency("d", x, x, x, x.max() + 1 - x)
    assert flipped.difference == pytest.approx(-2.0) and flipped.joint_js > 0.5


def test_mmd_tells_a_shift_from_a_reshuffle_with_a_seeded_p_value() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (120, 8))
    shuffled = mmd_test(x, x[rng.permutation(120)], np.random.default_rng(0), permutations=100)
    assert shuffled.mmd2 <= 0 and shuffled.p_value > 0.5
    same_law = mmd_test(x, rng.normal(0, 1, (120, 8)), np.random.default_rng(0), permutations=100)
    assert same_law.p_value > 0.05
    moved = mmd_test(x, rng.normal(0.7, 1, (120, 8)), np.random.default_rng(0), permutations=100)
    assert moved.p_value == pytest.approx(1 / 101) and moved.mmd2 > 0
    again = mmd_test(x, rng.normal(0.7, 1, (120, 8)), np.random.default_rng(0), permutations=100)
    assert again.bandwidth > 0 and again.permutations == 100


def test_frechet_distance_is_zero_on_a_copy_and_the_squared_mean_gap_under_equal_covariance() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (300, 5))
    assert frechet_distance(x, x[::-1]) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, 2.0, 0, 0, 0])
    assert frechet_distance(x, x + shift) == pytest.approx(5.0, rel=1e-6)


def test_knn_precision_and_recall_separate_covering_from_missing() -> None:
    rng = np.random.default_rng(5)
    real = rng.normal(0, 1, (200, 3))
    assert precision_recall(real, real[rng.permutation(200)], k=3) == (1.0, 1.0)
    far = real + 100
    assert precision_recall(real, far, k=3) == (0.0, 0.0)
    # B covers only half of A (one of two distant clusters): precision stays high, recall halves.
    two = np.concatenate([rng.normal(0, 0.1, (100, 3)), rng.normal(10, 0.1, (100, 3))])
    precision, recall = precision_recall(two, two[:100] + rng.normal(0, 0.01, (100, 3)), k=3)
    assert precision > 0.9 and 0.4 < recall < 0.6


def test_novelty_is_the_nearest_seed_cosine() -> None:
    seeds = unit(np.eye(4)[:2])
    synthetic = unit(np.array([[1.0, 0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 1.0, 0]]))
    assert nearest_cosine(synthetic, seeds) == pytest.approx([1.0, math.sqrt(0.5), 0.0])
    found = novelty(synthetic, seeds)
    assert found["near_copy_share"] == pytest.approx(1 / 3)
    assert found["mean_nn_cosine"] == pytest.approx((1 + math.sqrt(0.5)) / 3)


def test_distinct_n_and_self_bleu_on_texts_with_known_answers() -> None:
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n([""], 2) == 0.0
    repeated = ["the cat sat on the mat today"] * 4
    assert self_bleu(repeated) == pytest.approx(1.0)
    varied = ["the cat sat on the mat", "a dog ran in a park", "rain fell over old hills", "we sold ten blue cars"]
    assert self_bleu(varied) < 0.05
    # One text shares a 4-gram with another: its own BLEU rises, and with it the mean, above the varied set's.
    assert self_bleu([*varied[:3], "the cat sat on the sofa"]) > self_bleu(varied)


def test_mean_pairwise_cosine_matches_the_brute_force_mean() -> None:
    rng = np.random.default_rng(6)
    v = unit(rng.normal(0, 1, (30, 6)))
    brute = (v @ v.T)[~np.eye(30, dtype=bool)].mean()
    assert mean_pairwise_cosine(v) == pytest.approx(brute)


def sample(i: int, words: int = 5) -> Sample:
    text = " ".join(f"w{i}x{j}" for j in range(words))
    return Sample.create([Message(role="user", content=f"Question {i}: {text}?"),
                          Message(role="assistant", content=f"Answer {i}: " + text * (1 + i % 3))])


def test_hash_subsamples_do_not_depend_on_the_input_order() -> None:
    items = [sample(i) for i in range(50)]
    picked = hash_sample(items, 10, seed=7)
    assert hash_sample(list(reversed(items)), 10, seed=7) == picked
    assert hash_sample(items, 10, seed=8) != picked
    assert len(hash_sample(items, None, seed=7)) == 50


def test_language_is_english_by_common_words_else_the_guess() -> None:
    guesses: list[str] = []

    def guess(text: str) -> tuple[str, float] | None:
        guesses.append(text)
        return ("de", 0.99)

    assert language("This is what the answer should be for you", guess) == "en"
    assert language("Der Hund läuft schnell über die Straße", guess) == "de"
    assert language("ok", guess) == "unknown" and len(guesses) == 1


def features(label: str, samples: list[Sample], vectors: np.ndarray) -> SetFeatures:
    texts = [s.text() for s in samples]
    return SetFeatures(label=label, instructions=[s.instruction for s in samples], responses=[s.response for s in samples],
                       texts=texts, tokens=[len(t) for t in texts], words=[len(t.split()) for t in texts],
                       instruction_words=[len(s.instruction.split()) for s in samples],
                       response_words=[len(s.response.split()) for s in samples], turns=[1] * len(samples),
                       languages=["en"] * len(samples), scores=[float(1 + i % 5) for i in range(len(samples))],
                       vectors=vectors, total=len(samples))


def test_a_set_against_a_shuffled_copy_of_itself_comes_out_the_same() -> None:
    rng = np.random.default_rng(8)
    items = [sample(i, words=3 + i % 7) for i in range(80)]
    vectors = unit(rng.normal(0, 1, (80, 16))).astype(np.float32)
    ordered = hash_sample(items, None, seed=0)
    rows = np.stack([vectors[items.index(s)] for s in ordered])
    a = features("a", ordered, rows)
    b = features("b", ordered, rows)  # the hash order makes any input order of the copy this one
    result = compare_sets(a, b, CompareSettings(permutations=50, clusters=4))
    assert all(m["js"] == 0.0 for m in result["marginals"])
    assert all(d["joint_js"] == pytest.approx(0.0, abs=1e-12) for d in result["dependencies"])
    assert result["judge"]["scores"]["js"] == 0.0 and len(result["dependencies"]) == 2
    emb = result["embedding"]
    assert emb["frechet"] == pytest.approx(0.0, abs=1e-6) and emb["mmd_p_value"] > 0.5
    assert emb["precision"] == 1.0 and emb["recall"] == 1.0
    assert result["diversity"]["a"] == result["diversity"]["b"]
    assert result["novelty"]["near_copy_share"] == 1.0
    moved = features("c", ordered, unit(rows + 0.8).astype(np.float32))
    apart = compare_sets(a, moved, CompareSettings(permutations=50, clusters=4))
    assert apart["embedding"]["mmd_p_value"] < 0.05 and apart["embedding"]["frechet"] > 0.1


def test_mmd_and_knn_use_at_most_kernel_samples_a_set_so_max_samples_0_cannot_exhaust_memory() -> None:
    rng = np.random.default_rng(9)
    items = [sample(i, words=3 + i % 7) for i in range(60)]
    ordered = hash_sample(items, None, seed=0)
    a = features("a", ordered, unit(rng.normal(0, 1, (60, 8))).astype(np.float32))
    b = features("b", ordered, unit(rng.normal(0, 1, (60, 8))).astype(np.float32))
    capped = compare_sets(a, b, CompareSettings(permutations=20, clusters=3, kernel_samples=25))
    assert capped["embedding"]["kernel_n"] == [25, 25]
    head = compare_sets(features("a", ordered[:25], a.vectors[:25]), features("b", ordered[:25], b.vectors[:25]),
                        CompareSettings(permutations=20, clusters=3))
    assert capped["embedding"]["mmd2"] == pytest.approx(head["embedding"]["mmd2"])
    assert capped["embedding"]["precision"] == head["embedding"]["precision"]
