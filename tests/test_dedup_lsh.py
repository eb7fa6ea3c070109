"""MinHash candidates that grow with the pool, bounded work per LSH bucket, and deterministic batch signatures."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assay.core.records import Sample
from assay.tools import dedup as dedup_tool
from assay.tools import dedup_shingles
from assay.tools.dedup import dedup
from assay.tools.dedup_cluster import UnionFind
from assay.tools.dedup_lsh import banding, key_threshold, link_buckets
from assay.tools.dedup_shingles import char_shingles, jaccard, shingle_fingerprints
from assay.tools.dedup_signature import minhash_signatures, text_features
from tests.conftest import need_shared_data
from tests.test_dedup_scale import edited, sample, text, verified  # noqa: F401 (verified: the counting fixture)
from tests.test_engine_local import streamed


def alpaca(count: int) -> list[Sample]:
    """The first `count` records of alpaca_5000 as samples: real, mostly unrelated English texts."""
    from assay.core.formats import record_to_sample

    records = json.loads((need_shared_data() / "alpaca" / "alpaca_5000.json").read_text(encoding="utf-8"))
    return [record_to_sample(r, "alpaca", source="t") for r in records[:count]]


def test_unrelated_texts_give_few_candidates(verified: list[tuple[int, int]]) -> None:
    """Alpaca's texts share many character 3-grams (LSH over them verified ~12 pairs a sample at 3,000 and
    ~39 at 10,000: growth as N²); over the 5-gram key the candidates are a small fraction of N."""
    pool = alpaca(3000)
    result = dedup(pool, ("minhash",))
    assert len(verified) <= 0.05 * len(pool), len(verified)
    assert sum(not a.keep for a in result.assessments) <= 10  # the few real repeats alpaca_5000 holds


def test_a_200_copy_cluster_verifies_about_200_pairs(verified: list[tuple[int, int]]) -> None:
    rng = random.Random(4)
    original = sample(text(rng, 15), text(rng, 80))
    copies = [edited(original, rng, 3) for _ in range(200)]  # each its own text: no verification is shared
    result = dedup([original, *copies], ("minhash",))
    assert sum(not a.keep for a in result.assessments) == 200
    assert len(verified) <= 3 * 200, len(verified)  # every pair would be 20,100


def test_the_streaming_engine_checks_a_200_copy_cluster_in_about_200_pairs(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The global dedup's grouping (dedup_links.similar_links) once compared every plausible pair of a
    bucket, k(k-1)/2 for k copies; it now checks a newcomer against the clusters already in the bucket."""
    rng = random.Random(5)
    original = sample(text(rng, 15), text(rng, 80))
    pool = [original, *(edited(original, rng, 3) for _ in range(200)),
            *(sample(text(rng, 15), text(rng, 80)) for _ in range(100))]
    rng.shuffle(pool)
    source = tmp_path / "pool.jsonl"
    source.write_text("".join(json.dumps({"instruction": s.messages[0].content, "input": "",
                                          "output": s.messages[1].content}) + "\n" for s in pool), encoding="utf-8")
    checks = []
    jaccard_of = dedup_shingles.fingerprint_jaccard

    def counting(first: np.ndarray, second: np.ndarray) -> float:
        checks.append(1)
        return jaccard_of(first, second)

    monkeypatch.setattr(dedup_shingles, "fingerprint_jaccard", counting)  # dedup_links imports it when it runs
    monkeypatch.setattr(dedup_tool, "fingerprint_jaccard", counting)  # where the grouping once imported it from
    report = streamed(source, tmp_path / "out.jsonl", ("minhash",), tmp_path, workers=1, batch_size=64)
    assert report["by_reason"]["duplicate_of"] == 200
    assert len(checks) <= 3 * 200, len(checks)


def test_linked_buckets_have_the_components_of_every_related_pair() -> None:
    """Random buckets and a random, non-transitive relation: the joins equal the connected components of
    every related pair that shares a bucket, though far from every pair is asked."""
    rng = random.Random(6)
    for _ in range(30):
        size = 60
        buckets = [np.array(sorted(rng.sample(range(size), rng.randrange(2, 25)))) for _ in range(12)]
        related_pairs = {(a, b) for a in range(size) for b in range(a + 1, size) if rng.random() < 0.3}
        asked = []

        def related(a: int, b: int) -> bool:
            asked.append((a, b))
            return (a, b) in related_pairs

        joined = UnionFind(size)
        links = link_buckets(buckets, joined, related)
        every = UnionFind(size)
        for bucket in buckets:
            for i, a in enumerate(bucket.tolist()):
                for b in bucket[i + 1:].tolist():
                    if (a, b) in related_pairs:
                        every.union(a, b)
        assert [joined.find(p) for p in range(size)] == [every.find(p) for p in range(size)]
        assert all(pair in related_pairs for pair in links) and len(set(asked)) == len(asked)


def test_fingerprints_hold_each_distinct_shingle_once() -> None:
    texts = ["Hello, World! This is a test.", "ab", "", "abc", "Ünïcode straße 日本語テキスト", "hello world this is a test"]
    for text_, fingerprint in zip(texts, shingle_fingerprints(texts, 3), strict=True):
        assert len(fingerprint) == len(char_shingles(text_, 3)) and np.all(np.diff(fingerprint.astype(np.int64)) > 0)
    first, second = shingle_fingerprints([texts[0], texts[5]], 3)
    shared = np.intersect1d(first, second).size
    assert shared / (first.size + second.size - shared) == pytest.approx(jaccard(char_shingles(texts[0]),
                                                                                 char_shingles(texts[5])))


def test_signatures_estimate_the_5_gram_jaccard_and_repeat_alike() -> None:
    rng = random.Random(7)
    base = text(rng, 120)
    words = base.split()
    other = " ".join(w if rng.random() > 0.15 else rng.choice(words) for w in words)
    signatures = minhash_signatures([base, other, base], num_perm=256, seed=3)
    assert np.array_equal(signatures[0], signatures[2]) and signatures.dtype == np.uint32
    truth = jaccard(char_shingles(base, 5), char_shingles(other, 5))
    assert abs((signatures[0] == signatures[1]).mean() - truth) < 4 * np.sqrt(truth * (1 - truth) / 256)
    fingerprints, features = text_features([base, other], 3, 256, 3)
    assert np.array_equal(features, signatures[:2])
    assert not np.array_equal(minhash_signatures([base], seed=4), minhash_signatures([base], seed=3))


def test_signatures_are_the_same_in_another_process() -> None:
    """No Python hash() (salted per process): a fresh interpreter with another hash seed agrees."""
    code = ("import sys; from assay.tools.dedup_signature import minhash_signatures; "
            "sys.stdout.write(minhash_signatures(['Name three techniques of data cleaning.']).tobytes().hex())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout
    assert other == minhash_signatures(["Name three techniques of data cleaning."]).tobytes().hex()


def test_the_banding_follows_the_floor() -> None:
    # The edited-copy floor 0.6 on 3-grams is about 0.45 on 5-grams; 0.8 alone about 0.7.
    assert key_threshold(0.6) == pytest.approx(0.448, abs=0.01) and key_threshold(0.8) == pytest.approx(0.698, abs=0.01)
    assert banding(0.6, 128) == (32, 4) and banding(0.8, 128) == (25, 5)
    assert banding(0.6, 128, bands=16) == (16, 8)


def test_the_edited_copy_rules_word_bound_changes_no_verdict() -> None:
    """EditedCopyRule.holds rejects on the multiset bound before matching words in order: same verdicts as
    matching every pair (shuffled sentences keep the words and lose the order, edits lose both)."""
    import difflib

    from assay.tools.dedup_minhash import EditedCopyRule
    from assay.tools.dedup_text import normalize_text

    def reference(rule: EditedCopyRule, first: str, second: str, similarity: float) -> bool:
        words_a, words_b = normalize_text(first).split(), normalize_text(second).split()
        if similarity < rule.edited_floor or min(len(words_a), len(words_b)) < rule.min_words_in_order:
            return False
        matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
        in_order = sum(block.size for block in matcher.get_matching_blocks())
        return in_order >= rule.min_words_in_order and 2 * in_order / (len(words_a) + len(words_b)) >= rule.edited_ratio

    rng = random.Random(8)
    rule = EditedCopyRule()
    verdicts = []
    for _ in range(300):
        sentences = [text(rng, rng.randrange(4, 12)) + "." for _ in range(rng.randrange(2, 8))]
        other = list(sentences)
        if rng.random() < 0.5:
            rng.shuffle(other)
        words = " ".join(other).split()
        for _ in range(rng.randrange(0, 8)):
            words[rng.randrange(len(words))] = rng.choice(words)
        first, second = " ".join(sentences), " ".join(words)
        expected = reference(rule, first, second, 0.7)
        assert rule.holds(first, second, 0.7) == expected
        verdicts.append(expected)
    assert any(verdicts) and not all(verdicts)
