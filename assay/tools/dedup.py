"""Duplicate detection: exact (normalised hash), near (MinHash-LSH) and semantic (embeddings).

Each method yields scored pairs of batch positions; the pairs of all methods are joined into
clusters (the connected components of the pair graph), and each cluster keeps its best sample: highest `score_key` score,
ties to the earliest in the batch (callers put established samples first, so a new sample
that repeats an old one is the one dropped). The rest get `duplicate_of:<kept id>`.

Near duplicates are compared on character 3-grams of the normalised text. Word 5-grams, the
usual choice for web documents, break on short SFT samples (Alpaca's median is 47 words): one
edited word breaks five of them, and only 5 % of copies with 5-15 % of their words edited stay
at Jaccard 0.8. Bags of words survive edits but not templates (Dolly's "Identify which
instrument is string or percussion: X, Y" pairs reach 0.80); character 3-grams hold those at
0.77 or less and still find 91 % of copies with 5-10 % of words edited (evals/eval_dedup.py).

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

import difflib
import hashlib
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.core.records import Sample
from assay.core.assessment import KEEP, Assessment, drop
from assay.tools.dedup_task import SemanticTaskRule, TaskRule
from assay.tools.dedup_text import normalize_text

METHODS = ("exact", "minhash", "semantic")
# Banding tuned for recall (false-negative weight 0.98): at the 0.8 default datasketch's even
# weighting misses 60 % of pairs whose similarity is exactly 0.8, this misses 2 %; the extra
# candidates are verified exactly, so they cost time and never a wrong drop.
LSH_WEIGHTS = (0.02, 0.98)


@dataclass(frozen=True)
class DuplicatePair:
    """Two batch positions judged duplicates by one method (`first` < `second`)."""

    first: int
    second: int
    method: str
    similarity: float


@dataclass(frozen=True)
class DuplicateCluster:
    """A group of duplicates: the kept sample and the dropped ones, as batch positions and ids."""

    kept: int
    kept_id: str
    dropped: tuple[int, ...]
    dropped_ids: tuple[str, ...]
    methods: tuple[str, ...]  # the methods whose pairs formed this cluster


@dataclass(frozen=True)
class DedupResult:
    """One Assessment per input sample (same order), the clusters, and the pairs behind them."""

    assessments: list[Assessment]
    clusters: list[DuplicateCluster]
    pairs: list[DuplicatePair]


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


def char_shingles(text: str, size: int = 3) -> set[str]:
    """The set of `size`-character grams of the normalised text (the whole text when shorter)."""
    normal = normalize_text(text)
    if len(normal) <= size:
        return {normal}
    return {normal[i : i + size] for i in range(len(normal) - size + 1)}


def shingle_hash(shingle: str) -> int:
    """A 32-bit hash for MinHash: CRC-32 is deterministic and several times faster than
    datasketch's SHA-1 default, and its weak mixing is repaired by the MurmurHash finalizer
    that datasketch's affine32 scheme applies before permuting."""
    return zlib.crc32(shingle.encode("utf-8"))


def jaccard(first: set[str], second: set[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two shingle sets."""
    return len(first & second) / len(first | second) if first or second else 1.0


def shingle_fingerprint(text: str, size: int = 3) -> np.ndarray:
    """The text's shingles as sorted unique 32-bit hashes: a twentieth of the memory of the
    set of strings, so every sample's can be kept while LSH candidates are verified."""
    return np.unique(np.fromiter((shingle_hash(s) for s in char_shingles(text, size)), dtype=np.uint32))


def fingerprint_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Jaccard similarity of two fingerprints (exact up to 32-bit hash collisions)."""
    shared = np.intersect1d(first, second, assume_unique=True).size
    return shared / (first.size + second.size - shared)


@dataclass(frozen=True)
class EditedCopyRule:
    """When a pair under the Jaccard threshold still counts as an edited copy (see the module doc)."""

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
        matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
        in_order = sum(block.size for block in matcher.get_matching_blocks())
        return in_order >= self.min_words_in_order and 2 * in_order / (len(words_a) + len(words_b)) >= self.edited_ratio


def minhash_pairs(samples: Sequence[Sample], *, threshold: float = 0.8, num_perm: int = 128,
                  shingle_size: int = 3, seed: int = 1, edited: EditedCopyRule | None = EditedCopyRule(),
                  task: TaskRule | None = TaskRule()) -> list[DuplicatePair]:
    """Pairs whose Jaccard similarity of character shingles reaches `threshold`, and edited copies.

    MinHash-LSH only proposes candidates; each is then verified on the shingle fingerprints,
    so the reported similarity is exact and LSH false positives cost time, never a wrong drop.
    Candidates under `threshold` count when the `edited` rule holds (None turns it off).
    The whole conversation is compared, so a long shared context (one passage, different
    questions) can carry two distinct samples over the threshold: a pair found on the whole
    text then stands only when the `task` rule finds the same instruction (and answer) too
    (see dedup_task.py); None turns that check off and keeps whole-text similarity alone.
    """
    from datasketch import MinHash, MinHashLSH

    texts = ["\n".join(m.content for m in s.messages if m.role != "system") for s in samples]
    fingerprints = [shingle_fingerprint(t, shingle_size) for t in texts]
    signatures = MinHash.bulk((f.tolist() for f in fingerprints), num_perm=num_perm, seed=seed, hashfunc=int)
    floor = min(threshold, edited.edited_floor) if edited else threshold
    index = MinHashLSH(threshold=floor, num_perm=num_perm, weights=LSH_WEIGHTS)
    with index.insertion_session() as session:
        for position, signature in enumerate(signatures):
            session.insert(position, signature, check_duplication=False)
    pairs = []
    for position, signature in enumerate(signatures):
        later = sorted(c for c in index.query(signature) if c > position)
        if not later:
            continue
        for candidate in later:
            similarity = fingerprint_jaccard(fingerprints[position], fingerprints[candidate])
            near = similarity >= threshold or (edited and edited.holds(texts[position], texts[candidate], similarity))
            if near and (task is None or task.holds(samples[position], samples[candidate])):
                pairs.append(DuplicatePair(position, candidate, "minhash", similarity))
    return pairs


def semantic_pairs(vectors: np.ndarray, *, threshold: float = 0.95, block_size: int = 2048) -> list[DuplicatePair]:
    """Pairs of rows whose cosine similarity reaches `threshold`; rows must be unit vectors.

    Compares block against block over the upper triangle only, so memory stays at
    `block_size`² similarities whatever the number of rows.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    pairs = []
    for row_start in range(0, len(vectors), block_size):
        rows = vectors[row_start : row_start + block_size]
        for col_start in range(row_start, len(vectors), block_size):
            sims = rows @ vectors[col_start : col_start + block_size].T
            close = sims >= threshold
            if col_start == row_start:
                close = np.triu(close, k=1)  # the diagonal block holds each pair twice, and self-pairs
            for r, c in zip(*np.nonzero(close), strict=True):
                pairs.append(DuplicatePair(row_start + int(r), col_start + int(c), "semantic", float(sims[r, c])))
    return sorted(pairs, key=lambda p: (p.first, p.second))


def semantic_pairs_from_store(store: Any, samples: Sequence[Sample], *, threshold: float = 0.95,
                              neighbours: int = 10) -> list[DuplicatePair]:
    """Semantic pairs through the store's vector index: each sample's `neighbours` nearest.

    Scales to pools too large for block products (the index answers each query in about
    log time) at the price of missing duplicates beyond the nearest `neighbours` and of
    HNSW being approximate. Hits outside the batch are ignored. The samples must be stored.
    """
    positions: dict[str, list[int]] = {}
    for position, sample in enumerate(samples):
        positions.setdefault(sample.id, []).append(position)
    ids = list(positions)
    found: dict[tuple[int, int], float] = {}
    for start in range(0, len(ids), 512):
        part = ids[start : start + 512]
        for sample_id, vector in zip(part, store.vectors(part), strict=True):
            for hit in store.query(vector, neighbours + 1):
                similarity = 1.0 - hit.distance
                if hit.id == sample_id or hit.id not in positions or similarity < threshold:
                    continue
                a, b = sorted((positions[sample_id][0], positions[hit.id][0]))
                found[(a, b)] = max(found.get((a, b), -1.0), min(similarity, 1.0))
    # Repeated ids in one batch are the same content: pair each repeat with its first position.
    repeats = {(p[0], q): 1.0 for p in positions.values() for q in p[1:]}
    return [DuplicatePair(a, b, "semantic", s) for (a, b), s in sorted((found | repeats).items())]


def cluster_duplicates(samples: Sequence[Sample], pairs: Sequence[DuplicatePair],
                       score_key: str | None = None) -> DedupResult:
    """Join pairs into clusters and keep each cluster's best sample; the others are dropped."""
    component = _components(len(samples), pairs)
    members: dict[int, list[int]] = {}
    for position in range(len(samples)):
        members.setdefault(int(component[position]), []).append(position)
    methods_of: dict[int, set[str]] = {}
    for pair in pairs:
        methods_of.setdefault(int(component[pair.first]), set()).add(pair.method)

    def rank(position: int) -> tuple[float, int]:
        score = samples[position].scores.get(score_key) if score_key else None
        return (-score if score is not None and not math.isnan(score) else math.inf, position)

    strongest = _strongest_pair_per_position(pairs)
    assessments: list[Assessment] = [KEEP] * len(samples)
    clusters = []
    for group in members.values():
        if len(group) < 2:
            continue
        kept = min(group, key=rank)
        dropped = tuple(p for p in group if p != kept)
        for position in dropped:
            pair = strongest.get((position, kept)) or strongest[(position, None)]
            other = pair.second if pair.first == position else pair.first
            via = "" if other == kept else f" via {samples[other].id}"
            if samples[other].id == samples[position].id:
                via += " (a repeat of this very sample)"
            assessments[position] = drop(
                f"duplicate_of:{samples[kept].id}", f"{pair.method} similarity {pair.similarity:.2f}{via}",
                dup_similarity=pair.similarity, dup_cluster_size=float(len(group)),
            )
        assessments[kept] = Assessment(scores={"dup_cluster_size": float(len(group))})
        methods = tuple(sorted(methods_of[int(component[kept])], key=METHODS.index))
        dropped_ids = tuple(samples[p].id for p in dropped)
        clusters.append(DuplicateCluster(kept, samples[kept].id, dropped, dropped_ids, methods))
    return DedupResult(assessments, sorted(clusters, key=lambda c: c.kept), list(pairs))


def _components(size: int, pairs: Sequence[DuplicatePair]) -> np.ndarray:
    """Each position's cluster label: the connected components of the graph the pairs draw."""
    if not pairs:  # every sample alone; scipy is not needed (nor imported) for that
        return np.arange(size)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    firsts = np.fromiter((p.first for p in pairs), dtype=np.int64, count=len(pairs))
    seconds = np.fromiter((p.second for p in pairs), dtype=np.int64, count=len(pairs))
    graph = coo_matrix((np.ones(len(pairs), dtype=bool), (firsts, seconds)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels


def _strongest_pair_per_position(pairs: Sequence[DuplicatePair]) -> dict[tuple[int, int | None], DuplicatePair]:
    """Per position: its pair with each partner, and (key `None`) its strongest pair of all."""
    best: dict[tuple[int, int | None], DuplicatePair] = {}
    for pair in pairs:
        for this, other in ((pair.first, pair.second), (pair.second, pair.first)):
            for key in ((this, other), (this, None)):
                if key not in best or pair.similarity > best[key].similarity:
                    best[key] = pair
    return best


def dedup(samples: Sequence[Sample], methods: Sequence[str] = METHODS, vectors: np.ndarray | None = None, *,
          store: Any = None, score_key: str | None = None, minhash_threshold: float = 0.8, num_perm: int = 128,
          shingle_size: int = 3, seed: int = 1, semantic_threshold: float = 0.95,
          neighbours: int = 10, edited: EditedCopyRule | None = EditedCopyRule(),
          task: TaskRule | None = TaskRule(), embedder: Any = None,
          semantic_task: SemanticTaskRule | None = SemanticTaskRule()) -> DedupResult:
    """Find duplicates among `samples` with the named methods and keep one sample per cluster.

    The semantic method reads `vectors` (unit rows aligned with `samples`) by block products
    when given, else queries `store`'s vector index (see `semantic_pairs_from_store`).
    When two methods pair the same samples, the method named first describes the drop.
    `task` is MinHash's instruction-aware check and `semantic_task` the semantic one, which
    embeds the candidate pairs' parts with `embedder` (else the store's); None for either
    leaves that method on whole-text similarity alone.
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown dedup methods {sorted(unknown)}; choose from {METHODS}")
    pairs: dict[tuple[int, int], DuplicatePair] = {}
    for method in methods:
        if method == "exact":
            found = exact_pairs(samples)
        elif method == "minhash":
            found = minhash_pairs(samples, threshold=minhash_threshold, num_perm=num_perm,
                                  shingle_size=shingle_size, seed=seed, edited=edited, task=task)
        elif vectors is not None:
            if len(vectors) != len(samples):
                raise ValueError(f"{len(vectors)} vectors for {len(samples)} samples")
            found = semantic_pairs(vectors, threshold=semantic_threshold)
        elif store is not None:
            found = semantic_pairs_from_store(store, samples, threshold=semantic_threshold, neighbours=neighbours)
        else:
            raise ValueError("semantic dedup needs `vectors` aligned with the samples, or a `store` holding them")
        if method == "semantic" and semantic_task is not None and found:
            found = _same_task(samples, found, semantic_task, embedder or getattr(store, "embedder", None))
        for pair in found:
            pairs.setdefault((pair.first, pair.second), pair)
    return cluster_duplicates(samples, [pairs[k] for k in sorted(pairs)], score_key)


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
