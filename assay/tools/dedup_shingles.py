"""Character shingles and their fingerprints: what MinHash dedup compares (see dedup.py's module doc)."""

from __future__ import annotations

import zlib

import numpy as np

from assay.tools.dedup_text import normalize_text


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
