"""Per-sample dedup features, computed in pass 1 so the global dedup reads columns, not samples.

The exact key is the hash exact dedup compares. The MinHash signature is the one the Dedup tool
computes for the sample (same shingles, permutations and seed): its bands give the LSH
candidates (two samples are candidates when one band's rows are all equal), and the share of
equal values estimates the pair's Jaccard similarity. The shingle fingerprint gives the exact
similarity of the candidates that estimate leaves (dedup_pass.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from assay.core.records import Sample
from assay.pipeline.screen.scoring import ScoreOptions, dedup_options

FEATURE_TYPES = {"exact_key": pa.binary(16), "signature": pa.list_(pa.uint32()), "shingles": pa.list_(pa.uint32())}


def dedup_features(samples: Sequence[Sample], options: ScoreOptions) -> dict[str, dict[str, Any]]:
    """Each sample's exact key (when exact dedup is on) and MinHash signature (when MinHash is on), by id."""
    from assay.tools.dedup import normalized_turns

    features: dict[str, dict[str, Any]] = {s.id: dict.fromkeys(FEATURE_TYPES) for s in samples}
    if "exact" in options.dedup:
        for sample in samples:
            features[sample.id]["exact_key"] = hashlib.blake2b(normalized_turns(sample).encode("utf-8"),
                                                               digest_size=16).digest()
    if "minhash" in options.dedup and samples:
        fingerprints, minhashes = signatures(samples, options)
        for sample, fingerprint, signature in zip(samples, fingerprints, minhashes, strict=True):
            features[sample.id].update(signature=signature, shingles=fingerprint)
    return features


def signatures(samples: Sequence[Sample], options: ScoreOptions) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The samples' shingle fingerprints and MinHash signatures (32-bit values), as dedup_minhash.MinHashFinder
    computes them."""
    from datasketch import MinHash

    from assay.tools.dedup import shingle_fingerprint

    settings = dedup_options(options.screen)
    texts = ["\n".join(m.content for m in s.messages if m.role != "system") for s in samples]
    fingerprints = [shingle_fingerprint(t, settings["shingle_size"]) for t in texts]
    minhashes = MinHash.bulk((f.tolist() for f in fingerprints), num_perm=settings["num_perm"], seed=options.seed,
                             hashfunc=int)
    return fingerprints, [m.hashvalues.astype(np.uint32) for m in minhashes]


def lsh_params(options: ScoreOptions) -> tuple[int, int]:
    """(bands, rows per band) of the LSH index the Dedup tool builds for these options."""
    from datasketch import MinHashLSH

    from assay.tools.dedup import LSH_WEIGHTS

    settings = dedup_options(options.screen)
    num_perm, bands = settings["num_perm"], settings.get("bands")
    if bands is not None:
        return bands, num_perm // bands
    index = MinHashLSH(threshold=relevant_floor(options), num_perm=num_perm, weights=LSH_WEIGHTS)
    return index.b, index.r


def relevant_floor(options: ScoreOptions) -> float:
    """The lowest Jaccard similarity at which a MinHash candidate can verify: the threshold, or the edited-copy
    floor when edited copies count."""
    settings = dedup_options(options.screen)
    edited = settings["edited"]
    return min(settings["minhash_threshold"], edited.edited_floor) if edited else settings["minhash_threshold"]
