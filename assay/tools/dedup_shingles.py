"""Character shingles and their hashes, a whole batch at once: what MinHash dedup compares (see dedup.py).

A text's shingles are the `size`-character grams of its normalised form (the whole text when
it is shorter). They are hashed with numpy over the batch's code points, not one Python call
per gram: each gram's code points (21 bits each) are folded into 64 bits by a polynomial,
then mixed by the SplitMix64 finalizer. The hash is fixed arithmetic on the text, so it is
the same in every process and on every machine (no Python `hash()`, which is salted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.tools.dedup_text import normalize_text

_PAD = 0x110000  # one past the last code point: pads a text shorter than a gram, and no text holds it
_FOLD = np.uint64(0x100000001B3)  # an odd multiplier: the polynomial that folds a gram's code points
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # SplitMix64's finalizer


def char_shingles(text: str, size: int = 3) -> set[str]:
    """The set of `size`-character grams of the normalised text (the whole text when shorter)."""
    normal = normalize_text(text)
    if len(normal) <= size:
        return {normal}
    return {normal[i : i + size] for i in range(len(normal) - size + 1)}


def jaccard(first: set[str], second: set[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two shingle sets."""
    return len(first & second) / len(first | second) if first or second else 1.0


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: every input bit moves about half the output bits (uint64 in, uint64 out)."""
    values = values ^ (values >> np.uint64(30))
    values = values * _M1
    values = values ^ (values >> np.uint64(27))
    values = values * _M2
    return values ^ (values >> np.uint64(31))


def code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(the normalised texts' code points one after another, as uint64; each text's length)."""
    normal = [normalize_text(text) for text in texts]
    points = np.frombuffer("".join(normal).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return points, np.fromiter(map(len, normal), dtype=np.int64, count=len(normal))


def hash_grams(points: np.ndarray, lengths: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(the 64-bit hash of every `size`-gram of every text, the index of its text), from `code_points`:
    grams of one text together, texts in order. A text of `size` characters or fewer is one gram, padded
    (so that "ab" and "abc" differ)."""
    if (lengths < size).any():  # rare: rebuild the points with each short text padded to one gram
        pieces = np.split(points, np.cumsum(lengths)[:-1])
        points = np.concatenate([p if len(p) >= size else np.concatenate([p, np.full(size - len(p), _PAD,
                                                                                       dtype=np.uint64)])
                                 for p in pieces]) if len(pieces) else points
        lengths = np.maximum(lengths, size)
    if not len(lengths):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    grams = lengths - size + 1
    owner = np.repeat(np.arange(len(lengths)), grams)
    folded = np.zeros(len(points) - size + 1, dtype=np.uint64)
    for offset in range(size):  # every window of the whole run, by slices; wrapping modulo 2**64, as intended
        folded = folded * _FOLD + points[offset:offset + len(folded)]
    inside = np.ones(len(points), dtype=bool)  # the windows that stay inside one text: not the last size-1
    ends = np.cumsum(lengths)                   # starts of each text
    inside[(ends[:, None] - np.arange(1, size)[None, :]).ravel()] = False
    return mix64(folded[inside[:len(folded)]]), owner


def gram_hashes(texts: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """`hash_grams` of the texts' code points."""
    return hash_grams(*code_points(texts), size)


def shingle_fingerprints(texts: Sequence[str], size: int = 3) -> list[np.ndarray]:
    """Each text's shingles as sorted unique 32-bit hashes: a twentieth of the memory of the set of
    strings, so every sample's can be kept while LSH candidates are verified."""
    return fingerprints_of(*gram_hashes(texts, size), len(texts))


def fingerprints_of(hashes: np.ndarray, owner: np.ndarray, count: int) -> list[np.ndarray]:
    """The fingerprints of `count` texts from their grams' hashes (`hash_grams`)."""
    texts = range(count)
    keyed = np.sort(owner.astype(np.uint64) << np.uint64(32) | (hashes >> np.uint64(32)))  # by text, then hash
    keyed = keyed[np.concatenate([[True], keyed[1:] != keyed[:-1]])] if len(keyed) else keyed  # unique (a sort
    # and a mask: several times faster than np.unique's hash table here)
    bounds = np.searchsorted(keyed >> np.uint64(32), np.arange(count + 1, dtype=np.uint64))
    values = (keyed & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return [values[bounds[i]:bounds[i + 1]] for i in texts]


def shingle_fingerprint(text: str, size: int = 3) -> np.ndarray:
    """One text's fingerprint (see `shingle_fingerprints`)."""
    return shingle_fingerprints([text], size)[0]


def fingerprint_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Jaccard similarity of two fingerprints (exact up to 32-bit hash collisions)."""
    shared = np.intersect1d(first, second, assume_unique=True).size
    return shared / (first.size + second.size - shared)
