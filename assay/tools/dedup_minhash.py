"""Near duplicates by MinHash-LSH over character shingles, each candidate verified (see dedup.py).

The work grows with the pool, not with its duplicate pairs: a cluster of k copies holds
k(k-1)/2 pairs, and verifying each (the exact Jaccard, then the edited-copy and same-task
rules, which run difflib) is what made duplicate-heavy pools slow. Given the samples that
other methods already joined (`joined`), a candidate pair already in one cluster is not
verified: it could join nothing new, and within one LSH bucket a newcomer is verified against
the clusters already there, not against each member (dedup_lsh.link_buckets). So k copies cost
about k verifications, and one more per dropped sample when its pair with the kept one is
asked for (`pair`). Which pairs are candidates at all is dedup_signature.py's and dedup_lsh.py's.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from assay.core.records import Sample
from assay.tools.dedup_cluster import DuplicatePair, UnionFind
from assay.tools.dedup_lsh import BandIndex, banding, plausible_cut
from assay.tools.dedup_shingles import fingerprint_jaccard
from assay.tools.dedup_signature import text_features
from assay.tools.dedup_task import TaskRule
from assay.tools.dedup_text import normalize_text


@dataclass(frozen=True)
class EditedCopyRule:
    """When a pair under the Jaccard threshold still counts as an edited copy (see dedup.py's module doc)."""

    edited_floor: float = 0.6
    edited_ratio: float = 0.85
    min_words_in_order: int = 20

    def holds(self, first: str, second: str, similarity: float) -> bool:
        """Whether two texts whose shingle Jaccard is `similarity` are one text, edited."""
        if similarity < self.edited_floor:
            return False
        words_a, words_b = normalize_text(first).split(), normalize_text(second).split()
        if min(len(words_a), len(words_b)) < self.min_words_in_order:
            return False
        # The words shared as multisets bound the words matched in order: a pair that fails on the bound
        # fails the rule, without the matching that costs most of a verification (same test, exact counts).
        shared = sum((Counter(words_a) & Counter(words_b)).values())
        if shared < self.min_words_in_order or 2 * shared / (len(words_a) + len(words_b)) < self.edited_ratio:
            return False
        matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
        in_order = sum(block.size for block in matcher.get_matching_blocks())
        return in_order >= self.min_words_in_order and 2 * in_order / (len(words_a) + len(words_b)) >= self.edited_ratio


class MinHashFinder:
    """The MinHash-LSH index of a batch: its candidate pairs, each verified on demand.

    Candidates come from signatures over character 5-grams (dedup_signature.py) banded for the
    real floor, the lower of `threshold` and the edited floor (dedup_lsh.py); `bands` sets the
    banding instead (each band `num_perm / bands` rows). Verification compares 3-gram
    (`shingle_size`) fingerprints, then the edited-copy and task rules.
    """

    def __init__(self, samples: Sequence[Sample], *, threshold: float = 0.8, num_perm: int = 128,
                 shingle_size: int = 3, seed: int = 1, bands: int | None = None,
                 edited: EditedCopyRule | None = EditedCopyRule(), task: TaskRule | None = TaskRule()) -> None:
        if bands is not None and (bands < 2 or num_perm % bands):
            raise ValueError(f"bands = {bands} must be 2 or more and divide num_perm = {num_perm}")
        self.samples, self.threshold, self.edited, self.task = samples, threshold, edited, task
        self.texts = [sample_text(s) for s in samples]
        self.fingerprints, self.signatures = text_features(self.texts, shingle_size, num_perm, seed)
        floor = min(threshold, edited.edited_floor) if edited else threshold
        rows_of = banding(floor, num_perm, shingle_size, bands)
        self.index = BandIndex(self.signatures, *rows_of, plausible_cut(floor, num_perm, shingle_size))
        # Samples with the same turns (a repeat under another id or system prompt) verify alike
        # against anything: each pair of contents is verified once, whatever the copies.
        content: dict[tuple[tuple[str, str], ...], int] = {}
        self.twin = [content.setdefault(tuple((m.role, m.content) for m in s.messages if m.role != "system"), i)
                     for i, s in enumerate(samples)]
        self.outcomes: dict[tuple[int, int], tuple[float, bool]] = {}
        self.verified = 0  # pairs of contents verified: the work that once grew with the duplicate pairs

    def verify(self, first: int, second: int) -> DuplicatePair | None:
        """The pair if the two are near duplicates by the exact Jaccard, the edited-copy and the task rules."""
        key = (self.twin[first], self.twin[second])
        if key not in self.outcomes:
            self.outcomes[key] = self._verify(*key)
        similarity, near = self.outcomes[key]
        return DuplicatePair(first, second, "minhash", similarity) if near else None

    def _verify(self, first: int, second: int) -> tuple[float, bool]:
        self.verified += 1
        similarity = fingerprint_jaccard(self.fingerprints[first], self.fingerprints[second])
        near = similarity >= self.threshold or (
            self.edited is not None and self.edited.holds(self.texts[first], self.texts[second], similarity))
        return similarity, bool(near and (self.task is None or self.task.holds(self.samples[first],
                                                                                self.samples[second])))

    def pair(self, first: int, second: int) -> DuplicatePair | None:
        """The MinHash pair of two positions (first < second): LSH must propose them, then they must verify."""
        return self.verify(first, second) if self.index.proposes(first, second) else None

    def candidates(self, position: int) -> set[int]:
        """The positions LSH proposes for `position` (itself excluded)."""
        return self.index.candidates(position)

    def pairs(self, joined: UnionFind | None = None) -> list[DuplicatePair]:
        """The verified pairs. With `joined`, a bucket's newcomer is verified against the clusters in it
        (dedup_lsh.link_buckets) and every pair found joins its two: the pairs then span the clusters
        instead of listing every pair within them. Without, every proposed pair is verified."""
        if joined is not None:
            links = self.index.links(joined, lambda a, b: self.verify(a, b) is not None)
            return sorted((self.verify(a, b) for a, b in links), key=lambda p: (p.first, p.second))  # type: ignore
        every = {(a, b) for bucket in self.index.buckets for i, a in enumerate(bucket.tolist())
                 for b in bucket[i + 1:].tolist()}
        found = (self.verify(a, b) for a, b in sorted(every) if self.index.proposes(a, b))
        return [pair for pair in found if pair is not None]


def sample_text(sample: Sample) -> str:
    """The text MinHash compares: the sample's non-system turns, one per line."""
    return "\n".join(m.content for m in sample.messages if m.role != "system")


def minhash_pairs(samples: Sequence[Sample], *, threshold: float = 0.8, num_perm: int = 128,
                  shingle_size: int = 3, seed: int = 1, bands: int | None = None,
                  edited: EditedCopyRule | None = EditedCopyRule(),
                  task: TaskRule | None = TaskRule()) -> list[DuplicatePair]:
    """Every pair whose Jaccard similarity of character shingles reaches `threshold`, and edited copies.

    MinHash-LSH only proposes candidates; each is then verified on the shingle fingerprints,
    so the reported similarity is exact and LSH false positives cost time, never a wrong drop.
    Candidates under `threshold` count when the `edited` rule holds (None turns it off).
    The whole conversation is compared, so a long shared context (one passage, different
    questions) can carry two distinct samples over the threshold: a pair found on the whole
    text then stands only when the `task` rule finds the same instruction (and answer) too
    (see dedup_task.py); None turns that check off and keeps whole-text similarity alone.
    Listing every pair costs k² for k copies; dedup() asks MinHashFinder for a spanning set.
    """
    return MinHashFinder(samples, threshold=threshold, num_perm=num_perm, shingle_size=shingle_size, seed=seed,
                         bands=bands, edited=edited, task=task).pairs()
