"""Dedup's work grows with the pool, not with its duplicate pairs; the drops stay those of every pair."""

from __future__ import annotations

import random

import pytest

from assay.core.records import Message, Sample
from assay.tools import dedup_minhash
from assay.tools.dedup import cluster_duplicates, dedup, exact_pairs, minhash_pairs

WORDS = [f"{a}{b}{c}" for a in "bdfgklmnprstvz" for b in "aeiou" for c in "lmnrst"]


def text(rng: random.Random, words: int) -> str:
    """Random words: unrelated texts share few character 3-grams, so LSH rarely pairs them."""
    return " ".join(rng.choice(WORDS) + rng.choice(WORDS) for _ in range(words))


def sample(question: str, answer: str, **scores: float) -> Sample:
    return Sample.create([Message(role="user", content=question), Message(role="assistant", content=answer)],
                         source="t", scores=scores)


def edited(record: Sample, rng: random.Random, edits: int) -> Sample:
    """The record with `edits` words of its answer replaced: a near copy."""
    words = record.messages[1].content.split()
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return sample(record.messages[0].content, " ".join(words))


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every MinHash verification run (exact Jaccard, edited-copy and task rules), as positions."""
    calls: list[tuple[int, int]] = []
    verify = dedup_minhash.MinHashFinder._verify

    def counting(self: dedup_minhash.MinHashFinder, first: int, second: int):  # type: ignore[no-untyped-def]
        calls.append((first, second))
        return verify(self, first, second)

    monkeypatch.setattr(dedup_minhash.MinHashFinder, "_verify", counting)
    return calls


@pytest.mark.parametrize("methods", [("minhash",), ("exact", "minhash")])
def test_k_exact_copies_cost_about_k_verifications(verified: list[tuple[int, int]], methods: tuple[str, ...]) -> None:
    rng = random.Random(0)
    original = sample(text(rng, 12), text(rng, 60))
    k = 60
    pool = [sample(text(rng, 12), text(rng, 60)) for _ in range(40)]
    # Same content under k ids: the copies differ in a system turn, which dedup ignores.
    copies = [Sample.create([Message(role="system", content=f"copy {i}"), *original.messages], source="t")
              for i in range(k)]
    result = dedup(pool + copies, methods)
    assert sum(not a.keep for a in result.assessments) == k - 1
    # Every pair of copies is a duplicate pair (k(k-1)/2 = 1770); each copy is verified about once.
    assert len(verified) <= 2 * k, len(verified)


def test_k_edited_copies_cost_about_k_verifications(verified: list[tuple[int, int]]) -> None:
    rng = random.Random(1)
    original = sample(text(rng, 15), text(rng, 80))
    k = 50
    copies = [edited(original, rng, 2) for _ in range(k)]
    result = dedup([original, *copies], ("exact", "minhash"))
    assert sum(not a.keep for a in result.assessments) == k
    assert len(verified) <= 3 * k, len(verified)  # the copies hold k(k+1)/2 = 1275 pairs


def test_the_spanning_pairs_drop_and_describe_as_every_pair_would() -> None:
    """Clusters of exact, surface-varied and edited copies, some chained (a copy of a copy):
    the keeper, the reason and its detail (method, similarity, via) are those of the
    clustering of every pair, also when a score picks a keeper other than the first."""
    rng = random.Random(2)
    pool = []
    for cluster in range(12):
        original = sample(text(rng, 14), text(rng, 70), quality=rng.random())
        members = [original]
        for _ in range(rng.randrange(2, 12)):
            base = rng.choice(members)  # chains: some copies are edits of edits
            kind = rng.random()
            if kind < 0.3:
                copy = Sample.create(list(base.messages), source=f"dup{len(pool)}")
            elif kind < 0.5:
                copy = sample(base.messages[0].content.upper(), base.messages[1].content + " ")
            else:
                copy = edited(base, rng, rng.randrange(4, 15))
            members.append(copy.model_copy(update={"scores": {"quality": rng.random()}}))
        pool += members
    pool += [sample(text(rng, 14), text(rng, 70), quality=0.5) for _ in range(30)]
    rng.shuffle(pool)
    for methods in (("exact", "minhash"), ("minhash", "exact"), ("minhash",)):
        for score_key in (None, "quality"):
            every = []
            seen: dict[tuple[int, int], object] = {}
            for method in methods:
                for pair in (exact_pairs(pool) if method == "exact" else minhash_pairs(pool)):
                    seen.setdefault((pair.first, pair.second), pair)
            every = [seen[key] for key in sorted(seen)]
            expected = cluster_duplicates(pool, every, score_key)  # type: ignore[arg-type]
            found = dedup(pool, methods, score_key=score_key)
            assert found.assessments == expected.assessments, (methods, score_key)
            assert [(c.kept, c.dropped) for c in found.clusters] == [(c.kept, c.dropped) for c in expected.clusters]
            details = {a.detail for a in found.assessments if a.detail}
            assert any(" via " in d for d in details) or score_key is None  # the via path is exercised
