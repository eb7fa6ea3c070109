"""MinHash signatures of a whole batch with numpy: the keys that propose near-duplicate candidates.

The signatures are taken over character `KEY_SIZE`-grams (5), not over the 3-grams that verify
a pair (dedup_shingles.py, dedup_minhash.py). Unrelated English texts share many 3-grams (a
mean Jaccard of 0.09 on alpaca_5000, 0.29 at most), so LSH tuned for the 0.6 edited-copy floor
proposed about 0.5 % of all pairs, and the candidates grew as N². On 5-grams unrelated texts
reach 0.017 on average (0.16 at most) while the planted near copies of evals/eval_dedup.py
stay at 0.63 or more: LSH separates them with few candidates, and the verification that
decides is still the 3-gram rule, so a verdict changes only where a true pair is not proposed.

Permutation i maps a gram's 64-bit hash h to the top 32 bits of a_i·h + b_i (mod 2⁶⁴), with
a_i odd: multiply-shift hashing, a vectorised product over (grams × permutations). The a_i and
b_i come from numpy's PCG64 seeded with `seed`, so signatures are the same on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assay.tools.dedup_shingles import code_points, fingerprints_of, gram_hashes, hash_grams

KEY_SIZE = 5  # characters per gram of the candidate key
_CHUNK = 1 << 12  # grams per (permutations × grams) product: 4k × 128 × 8 bytes = 4 MB, one buffer reused


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of each permutation: a odd, both 64-bit, fixed by `seed`."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2)
    return a, b


def minhash_signatures(texts: Sequence[str], num_perm: int = 128, seed: int = 1, size: int = KEY_SIZE) -> np.ndarray:
    """The MinHash signature of each text over its normalised character `size`-grams: (texts × num_perm) uint32."""
    return signatures_of(*gram_hashes(texts, size), len(texts), num_perm, seed)


def text_features(texts: Sequence[str], shingle_size: int = 3, num_perm: int = 128,
                  seed: int = 1) -> tuple[list[np.ndarray], np.ndarray]:
    """(each text's `shingle_size`-gram fingerprint, its MinHash signature): what dedup keeps of a text.
    The texts are normalised once for both, and a text repeated in the batch is hashed once."""
    first: dict[str, int] = {}
    slot = [first.setdefault(t, len(first)) for t in texts]
    points, lengths = code_points(list(first))
    prints = fingerprints_of(*hash_grams(points, lengths, shingle_size), len(first))
    signatures = signatures_of(*hash_grams(points, lengths, KEY_SIZE), len(first), num_perm, seed)
    return [prints[i] for i in slot], signatures[np.asarray(slot, dtype=np.int64)]


def signatures_of(hashes: np.ndarray, owner: np.ndarray, count: int, num_perm: int, seed: int) -> np.ndarray:
    """The signatures of `count` texts from their grams' hashes (dedup_shingles.hash_grams)."""
    a, b = permutations(num_perm, seed)
    signatures = np.full((count, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    buffer = np.empty((num_perm, _CHUNK), dtype=np.uint64)  # reused: fresh 4 MB arrays would cost page faults
    for start in range(0, len(hashes), _CHUNK):
        h, who = hashes[start:start + _CHUNK], owner[start:start + _CHUNK]
        # (permutations × grams), in place: the reduction then runs along contiguous rows, many times faster.
        values = buffer[:, :len(h)]
        np.multiply(a[:, None], h[None, :], out=values)
        np.add(values, b[:, None], out=values)
        np.right_shift(values, np.uint64(32), out=values)
        heads = np.concatenate([[0], np.flatnonzero(np.diff(who)) + 1])  # grams of one text are contiguous
        lowest = np.minimum.reduceat(values, heads, axis=1).T.astype(np.uint32)
        rows = who[heads]
        signatures[rows] = np.minimum(signatures[rows], lowest)  # a text split over two chunks takes both
    return signatures
