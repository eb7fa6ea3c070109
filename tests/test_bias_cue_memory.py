"""Bias-cue candidates in bounded memory: lexical candidates are discovered on a seeded sample and
counted exactly over every response (tools/bias_cue_ngrams.py), so memory does not grow with the
pool's distinct n-grams, and the candidates and their carriers are those of a full count."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from assay.tools import bias_cue_candidates, bias_cue_ngrams
from assay.tools.bias_cue_candidates import Candidate, candidates, tokens
from assay.tools.bias_cue_detect import detect

PHRASE = "for what it is worth"
OPENER = "Great question! Let me explain."


def _pool(n: int, seed: int, words: int = 30, near: float = 0.015) -> list[str]:
    """Responses of random words from a large vocabulary (nearly every 3-gram distinct), a phrase in
    30 % of them, an opener on 10 %, and a rarer phrase on `near` of them (near a bar)."""
    rng = np.random.default_rng(seed)
    vocabulary = np.asarray([f"w{i}" for i in range(20_000)])
    texts = []
    for i in range(n):
        body = list(vocabulary[rng.integers(0, vocabulary.size, words)])
        if rng.random() < 0.3:
            body.insert(int(rng.integers(0, words)), PHRASE)
        if rng.random() < near:
            body.insert(int(rng.integers(0, words)), "near the bar here")
        text = " ".join(body) + "."
        texts.append(f"{OPENER} {text}" if i % 10 == 0 else text)
    return texts


def _signature(found: list[Candidate]) -> list[tuple[str, str, tuple[str, ...], bytes]]:
    return sorted((c.cue.kind, c.cue.pattern, c.words, c.carriers.tobytes()) for c in found)


def test_peak_memory_stays_bounded_on_a_pool_of_distinct_ngrams(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keeping every 3-gram with its carriers (the earlier code) peaks at 57 MB here (10 MB now); the
    # bounded count holds a 2,000-response sample (100 / min_share) and one chunk at a time.
    monkeypatch.setattr(bias_cue_ngrams, "DISCOVERY_DOCS", 1_000)
    texts = _pool(8_000, 0, words=25)
    tokens("warm")  # the case-fold table is built once per process: not the counting's memory
    tracemalloc.start()
    try:
        found = candidates(texts, min_share=0.05)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 25e6, f"peak {peak / 1e6:.1f} MB"
    by_words = {c.words: c for c in found}
    carriers = [i for i, t in enumerate(texts) if PHRASE in t]
    assert by_words[tuple(PHRASE.split())].carriers.tolist() == carriers  # exact, though discovered on a sample
    assert by_words[("great", "question", "let", "me", "explain")].support == 800


def test_sampled_discovery_finds_what_a_full_count_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _pool(4_000, 1, words=12, near=0.06)
    full = candidates(texts, min_share=0.05)  # 200 carriers needed; the pool fits the sample: a full count
    assert any(c.words == ("near", "the", "bar", "here") for c in full)  # 6 %: near the 5 % bar
    monkeypatch.setattr(bias_cue_ngrams, "DISCOVERY_DOCS", 600)  # the sample: 2,000 (100 / min_share)
    discovered = bias_cue_ngrams.discover(texts, tokens, [("phrase", 3)], 200, 0)[("phrase", 3)]
    assert 0 < discovered.size < 20  # the sample's bar (65 of 2,000) passes the planted phrases' parts only
    for seed in range(3):
        assert _signature(candidates(texts, min_share=0.05, seed=seed)) == _signature(full)
    monkeypatch.setattr(bias_cue_ngrams, "DISCOVERY_DOCS", 10_000)
    monkeypatch.setattr(bias_cue_ngrams, "DISCOVERY_WORDS", 5_000)  # the word budget bounds the sample too
    assert _signature(candidates(texts, min_share=0.05, seed=5)) == _signature(full)


def test_the_bar_is_need_on_a_whole_pool_and_lower_on_a_sample() -> None:
    assert bias_cue_ngrams.bar(200, 20_000, 20_000) == 200
    lowered = bias_cue_ngrams.bar(10_000, 1_000_000, 20_000)  # 1 % of 1M: 200 expected in the sample
    assert 100 < lowered < 200
    assert bias_cue_ngrams.bar(20, 100_000, 1_000) == 1  # a tiny expected count: everything is counted


def test_detection_passes_its_seed_to_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    discover = bias_cue_ngrams.discover

    def recording(texts, tokenize, classes, need, seed):  # type: ignore[no-untyped-def]
        seen.append(seed)
        return discover(texts, tokenize, classes, need, seed)

    monkeypatch.setattr(bias_cue_ngrams, "discover", recording)
    texts = _pool(600, 2, words=10)
    outcome = np.asarray([1.0 if t.startswith("Great") else 0.0 for t in texts])
    found = detect(texts, outcome, permutations=50, seed=7)
    assert seen == [7] and found.tests[0].cue.kind == "opener"
    assert bias_cue_candidates.ngrams is bias_cue_ngrams
