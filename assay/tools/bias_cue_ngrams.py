"""Word n-grams that many responses carry, counted in memory that does not grow with the pool's n-grams.

The lexical bias-cue candidates (tools/bias_cue_candidates.py) are the openers, closers and phrases
that at least `need` responses carry. Keeping every distinct n-gram of every response with its
carriers costs memory in proportion to the pool's words (most 3-grams occur once): 135 MB at 20k
responses, many GB at 1M. Two passes instead:

1. Discovery, on a seeded random sample of the responses (all of them when the pool is small).
   The sample stops at DISCOVERY_DOCS responses or DISCOVERY_WORDS words, but not before an n-gram
   carried by exactly `need` responses is expected MIN_EXPECTED times in it (100 / min_share
   responses: 10,000 at the default 1 %; a smaller sample would drop the bar to almost nothing).
   Each n-gram is a 64-bit hash (a polynomial over its words' hashes), and document frequencies are
   counted by sorting numpy arrays. An n-gram is discovered when its count in the sample reaches
   the sample's share of `need` less Z hypergeometric standard deviations: one that reaches `need`
   in the whole pool is missed with probability under about 3e-7 (Z = 5). When the sample is the
   whole pool the bar is `need` itself and nothing is missed.
2. Counting, over every response a chunk at a time: the windows whose hash was discovered are read
   back as words, and each such n-gram's carriers are collected exactly. A hash collision can only
   bring an extra n-gram to be counted (kept or dropped on its own exact carriers), never change
   an n-gram's carriers.

Memory: the sample's word hashes (8 bytes a word; the sample's size depends on the constants and
min_share, not on the pool's), one chunk at a time, and the carriers of the discovered n-grams
(what the candidates return). LLM-free; imports nothing of assay.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterator, Sequence

import numpy as np

DISCOVERY_DOCS = 20_000  # responses in the discovery sample, at most
DISCOVERY_WORDS = 1_000_000  # words in it, at most (the discovery's arrays are ~40 bytes a word)
CHUNK_DOCS = 2_000  # responses tokenised at a time in the counting pass
MIN_EXPECTED = 100  # an n-gram carried by exactly `need` responses is expected this often in the sample, at least
Z = 5.0  # the discovery bar's margin, in standard deviations of the sample count (about half of MIN_EXPECTED)
MULT = np.uint64(0x100000001B3)  # odd: the polynomial hash loses no information modulo 2^64

Kind = tuple[str, int]  # ("opener" | "closer" | "phrase", words)
Tokenize = Callable[[str], list[str]]


def kinds(opener: tuple[int, int], closer: tuple[int, int], phrase: tuple[int, int]) -> list[Kind]:
    """Every (kind, size) counted, sizes inclusive."""
    return [(kind, m) for kind, (low, high) in (("opener", opener), ("closer", closer), ("phrase", phrase))
            for m in range(low, high + 1)]


def bar(need: int, n: int, k: int) -> int:
    """The count in a sample of `k` of `n` responses that an n-gram carried by `need` reaches but for
    a Z-standard-deviation fall (hypergeometric); `need` itself when the sample is the pool."""
    if k >= n:
        return need
    p = need / n
    sd = math.sqrt(k * p * (1 - p) * (n - k) / (n - 1))
    return max(1, math.floor(k * p - Z * sd))


def _hashes(docs: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """All words' hashes, concatenated, and each document's start (one more: the end)."""
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=starts[1:])
    words = np.fromiter((hash(w) for d in docs for w in d), dtype=np.int64, count=int(starts[-1]))
    return words.view(np.uint64), starts


def _windows(kind: str, m: int, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the `m`-word windows of a kind, and their documents (ascending)."""
    lengths = np.diff(starts)
    if kind != "phrase":
        docs = np.flatnonzero(lengths >= m)
        return (starts[docs] if kind == "opener" else starts[docs + 1] - m), docs
    doc_of = np.repeat(np.arange(lengths.size), lengths)
    positions = np.flatnonzero(np.arange(doc_of.size) + m <= starts[1:][doc_of])
    return positions, doc_of[positions]


def _grams(words: np.ndarray, sizes: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(m, hash of the m-word window starting at each position) for m ascending; two arrays alive at a time."""
    grams = words
    for m in range(1, max(sizes) + 1):
        if m > 1:
            grams = grams[:-1] * MULT + words[m - 1:]  # uint64 arithmetic wraps: modulo 2^64
        if m in sizes:
            yield m, grams


def _document_frequencies(hashes: np.ndarray, docs: np.ndarray, distinct_docs: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct hash (sorted) and the number of documents it occurs in."""
    if distinct_docs:  # one document may hold a phrase twice: count it once
        order = np.lexsort((docs, hashes))
        h, d = hashes[order], docs[order]
        first = np.ones(h.size, dtype=bool)
        first[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
        h = h[first]
    else:  # an opener or closer occurs once per document
        h = np.sort(hashes)
    change = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if h.size else np.zeros(0, dtype=np.int64)
    return h[change], np.diff(np.r_[change, h.size])


def discover(texts: Sequence[str], tokenize: Tokenize, classes: Sequence[Kind], need: int,
             seed: int) -> dict[Kind, np.ndarray]:
    """The hashes (sorted) of each kind's n-grams frequent enough in a seeded sample to be counted in full."""
    order = np.random.default_rng(seed).permutation(len(texts))
    least = math.ceil(MIN_EXPECTED * len(texts) / max(need, 1))  # below this the bar falls to almost nothing
    sample: list[np.ndarray] = []
    words = 0
    for i in order:
        if len(sample) >= least and (len(sample) >= DISCOVERY_DOCS or words >= DISCOVERY_WORDS):
            break
        hashed, _ = _hashes([tokenize(texts[i])])
        sample.append(hashed)
        words += hashed.size
    threshold = bar(need, len(texts), len(sample))
    starts = np.zeros(len(sample) + 1, dtype=np.int64)
    np.cumsum([s.size for s in sample], out=starts[1:])
    hashed = np.concatenate(sample) if sample else np.zeros(0, dtype=np.uint64)
    del sample
    found: dict[Kind, np.ndarray] = {}
    for m, grams in _grams(hashed, sorted({m for _, m in classes})):
        for kind in [k for k, size in classes if size == m]:
            positions, docs = _windows(kind, m, starts)
            values, counts = _document_frequencies(grams[positions], docs, kind == "phrase")
            found[(kind, m)] = values[counts >= threshold]
    return found


def count(texts: Sequence[str], tokenize: Tokenize, discovered: dict[Kind, np.ndarray], need: int
          ) -> dict[Kind, dict[tuple[str, ...], np.ndarray]]:
    """Each discovered kind's n-grams carried by at least `need` responses, with their carriers (sorted),
    over every response: openers and closers by first carrier, phrases by first carrier then words."""
    carriers: dict[Kind, dict[tuple[str, ...], array]] = {k: {} for k in discovered}
    sizes = sorted({m for (_, m), values in discovered.items() if values.size})
    for first in range(0, len(texts) if sizes else 0, CHUNK_DOCS):
        docs = [tokenize(t) for t in texts[first:first + CHUNK_DOCS]]
        hashed, starts = _hashes(docs)
        for m, grams in _grams(hashed, sizes):
            for (kind, size), wanted in discovered.items():
                if size != m or not wanted.size:
                    continue
                positions, owners = _windows(kind, m, starts)
                values = grams[positions]
                at = np.minimum(np.searchsorted(wanted, values), wanted.size - 1)
                hits = np.flatnonzero(wanted[at] == values)
                table = carriers[(kind, m)]
                for p, d in zip(positions[hits].tolist(), owners[hits].tolist()):
                    offset = p - int(starts[d])
                    ids = table.setdefault(tuple(docs[d][offset:offset + m]), array("q"))
                    if not ids or ids[-1] != first + d:  # windows come in document order
                        ids.append(first + d)
    out: dict[Kind, dict[tuple[str, ...], np.ndarray]] = {}
    for key, table in carriers.items():
        kept = [(g, np.frombuffer(ids, dtype=np.int64)) for g, ids in table.items() if len(ids) >= need]
        kept.sort(key=lambda item: (int(item[1][0]), item[0]) if key[0] == "phrase" else int(item[1][0]))
        out[key] = dict(kept)
    return out
