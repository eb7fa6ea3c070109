"""Duplicate detection: exact (normalised hash), near (MinHash-LSH) and semantic (embeddings).

Each method yields scored pairs of batch positions; the pairs of all methods are joined into
clusters (the connected components of the pair graph), and each cluster keeps its best
sample: highest `score_key` score, ties to the earliest in the batch (callers put established
samples first, so a new sample that repeats an old one is the one dropped). The rest get
`duplicate_of:<kept id>`. How the clusters are found without listing every pair within them
(the cost that once grew with the duplicate pairs) is in dedup_minhash.py and dedup_cluster.py.

Near duplicates are compared on character 3-grams of the normalised text. Word 5-grams, the
usual choice for web documents, break on short SFT samples (Alpaca's median is 47 words): one
edited word breaks five of them, and only 5 % of copies with 5-15 % of their words edited stay
at Jaccard 0.8. Bags of words survive edits but not templates (Dolly's "Identify which
instrument is string or percussion: X, Y" pairs reach 0.80); character 3-grams hold those at
0.77 or less and still find 91 % of copies with 5-10 % of words edited (evals/eval_dedup.py).
Which pairs are compared at all is decided apart, by MinHash-LSH over character 5-grams,
which unrelated texts share far less than 3-grams (dedup_signature.py, dedup_lsh.py): the
candidates then grow with the pool, not with its square.

Copies edited more heavily fall under 0.8 too, and lowering the threshold drops template
siblings. What separates them is length: a short template sibling ("… string or
percussion: yard, metre") shares at most 16 words in order with its twin in Dolly, while an
edited copy of a real sample shares dozens. So a candidate between `edited_floor` and the
threshold also counts when `min_words_in_order` words or more match in order and they make
up `edited_ratio` of both texts; below that length an edit is as far as a sibling and the
pair is left alone.

Similar texts are not always one task: questions asked over one shared passage are similar
on the whole text and different in what they ask and answer. So MinHash and semantic pairs
stand only when the instructions outside the shared material (and, for a looser match, the
responses) agree too: see dedup_task.py. Exact dedup needs no such check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.core.assessment import Assessment
from assay.core.records import Sample
from assay.tools.dedup_cluster import (METHODS, DedupResult, DuplicateCluster, DuplicatePair, UnionFind,
                                       cluster_duplicates)
from assay.tools.dedup_minhash import EditedCopyRule, MinHashFinder, minhash_pairs
from assay.tools.dedup_semantic import semantic_pairs, semantic_pairs_from_store
from assay.tools.dedup_shingles import char_shingles, fingerprint_jaccard, jaccard, shingle_fingerprint
from assay.tools.dedup_task import SemanticTaskRule, TaskRule
from assay.tools.dedup_text import normalize_text

__all__ = ["METHODS", "Dedup", "DedupResult", "DuplicateCluster", "DuplicatePair", "EditedCopyRule",
           "MinHashFinder", "char_shingles", "cluster_duplicates", "dedup", "exact_pairs", "fingerprint_jaccard",
           "jaccard", "minhash_pairs", "normalize_text", "normalized_turns", "semantic_pairs",
           "semantic_pairs_from_store", "shingle_fingerprint"]


def normalized_turns(sample: Sample) -> str:
    """The sample's non-system turns, each normalised, joined by a separator no text holds."""
    return "\x1f".join(normalize_text(m.content) for m in sample.messages if m.role != "system")


def exact_pairs(samples: Sequence[Sample]) -> list[DuplicatePair]:
    """Pairs whose normalised turns hash alike; each later copy is paired with the first."""
    first_seen: dict[bytes, int] = {}
    pairs = []
    for position, sample in enumerate(samples):
        digest = hashlib.blake2b(normalized_turns(sample).encode("utf-8"), digest_size=16).digest()
        earlier = first_seen.setdefault(digest, position)
        if earlier != position:
            pairs.append(DuplicatePair(earlier, position, "exact", 1.0))
    return pairs


def dedup(samples: Sequence[Sample], methods: Sequence[str] = METHODS, vectors: np.ndarray | None = None, *,
          store: Any = None, score_key: str | None = None, minhash_threshold: float = 0.8, num_perm: int = 128,
          shingle_size: int = 3, seed: int = 1, bands: int | None = None, semantic_threshold: float = 0.95,
          neighbours: int = 10, edited: EditedCopyRule | None = EditedCopyRule(),
          task: TaskRule | None = TaskRule(), embedder: Any = None,
          semantic_task: SemanticTaskRule | None = SemanticTaskRule(),
          semantic_found: Sequence[DuplicatePair] | None = None) -> DedupResult:
    """Find duplicates among `samples` with the named methods and keep one sample per cluster.

    The semantic method reads `vectors` (unit rows aligned with `samples`) by block products
    when given, else queries `store`'s vector index (see `semantic_pairs_from_store`).
    When two methods pair the same samples, the method named first describes the drop.
    `task` is MinHash's instruction-aware check and `semantic_task` the semantic one, which
    embeds the candidate pairs' parts with `embedder` (else the store's); None for either
    leaves that method on whole-text similarity alone. `bands` sets MinHash's LSH banding.
    `semantic_found`: the semantic pairs found (and task-checked) beforehand, positions in
    `samples`; the semantic method then takes them as they are (the streamed screen finds them
    over the whole pool, then dedups group by group).

    Exact and semantic pairs are found first; MinHash then verifies only candidates that
    those and its own pairs so far have not joined (dedup_minhash.py), so duplicate-heavy
    pools cost time in proportion to their size. Each dropped sample's pair with the kept
    one is then looked up, in the methods' order, as if every pair had been listed.
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown dedup methods {sorted(unknown)}; choose from {METHODS}")
    found: dict[str, dict[tuple[int, int], DuplicatePair]] = {}
    joined = UnionFind(len(samples))
    for method in sorted(methods, key=lambda m: m == "minhash"):  # MinHash last: it skips what is joined
        if method == "exact":
            pairs = exact_pairs(samples)
        elif method == "minhash":
            finder = MinHashFinder(samples, threshold=minhash_threshold, num_perm=num_perm, shingle_size=shingle_size,
                                   seed=seed, bands=bands, edited=edited, task=task)
            pairs = finder.pairs(joined)
        elif semantic_found is not None:
            pairs = list(semantic_found)
        else:
            pairs = _semantic(samples, vectors, store, semantic_threshold, neighbours)
            if semantic_task is not None and pairs:
                pairs = _same_task(samples, pairs, semantic_task, embedder or getattr(store, "embedder", None))
        for pair in pairs:
            joined.union(pair.first, pair.second)
        found[method] = {(p.first, p.second): p for p in pairs}
    listed: dict[tuple[int, int], DuplicatePair] = {}
    for method in methods:  # the method named first describes a pair that several find
        for key, pair in found[method].items():
            listed.setdefault(key, pair)

    def direct(first: int, second: int) -> DuplicatePair | None:
        for method in methods:
            pair = finder.pair(first, second) if method == "minhash" else found[method].get((first, second))
            if pair is not None:
                return pair
        return None

    touching: dict[int, list[tuple[int, int]]] = {}
    for key in listed:
        for position in key:
            touching.setdefault(position, []).append(key)

    def around(position: int) -> list[DuplicatePair]:
        # Every pair of `position`, as if all had been listed: its MinHash candidates verified afresh.
        keys = set(touching.get(position, ())) | {tuple(sorted((position, c))) for c in finder.candidates(position)}
        return [pair for pair in map(lambda key: direct(*key), sorted(keys)) if pair is not None]

    return cluster_duplicates(samples, [listed[k] for k in sorted(listed)], score_key,
                              **({"direct": direct, "around": around} if "minhash" in methods else {}))


def _semantic(samples: Sequence[Sample], vectors: np.ndarray | None, store: Any, threshold: float,
              neighbours: int) -> list[DuplicatePair]:
    """Semantic pairs from `vectors` by block products, else from `store`'s index."""
    if vectors is not None:
        if len(vectors) != len(samples):
            raise ValueError(f"{len(vectors)} vectors for {len(samples)} samples")
        return semantic_pairs(vectors, threshold=threshold)
    if store is not None:
        return semantic_pairs_from_store(store, samples, threshold=threshold, neighbours=neighbours)
    raise ValueError("semantic dedup needs `vectors` aligned with the samples, or a `store` holding them")


def _same_task(samples: Sequence[Sample], found: list[DuplicatePair], rule: SemanticTaskRule,
               embedder: Any) -> list[DuplicatePair]:
    """The semantic pairs whose samples pose the same task by `rule`, their parts embedded by `embedder`."""
    verdicts = rule.holds_for(samples, [(p.first, p.second) for p in found], embedder.encode if embedder else None)
    return [pair for pair, same in zip(found, verdicts, strict=True) if same]


class Dedup:
    """Dedup as a batch tool; semantic vectors come from `store` when given, else from `embedder`."""

    name = "dedup"

    def __init__(self, methods: Sequence[str] = METHODS, *, store: Any = None, embedder: Any = None,
                 score_key: str | None = None, **options: Any) -> None:
        if "semantic" in methods and store is None and embedder is None:
            raise ValueError("semantic dedup needs a store or an embedder")
        self.methods = tuple(methods)
        self.store = store
        self.embedder = embedder
        self.score_key = score_key
        self.options = options
        self.last_result: DedupResult | None = None  # the clusters behind the latest call, for reports

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """One Assessment per sample; the cluster report is left in `last_result`."""
        vectors = None
        if "semantic" in self.methods and self.store is None:
            vectors = self.embedder.encode([s.text() for s in batch])
        self.last_result = dedup(batch, self.methods, vectors, store=self.store, score_key=self.score_key,
                                 embedder=self.embedder, **self.options)
        return self.last_result.assessments
