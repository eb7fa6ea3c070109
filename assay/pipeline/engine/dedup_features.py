"""Per-sample dedup features, computed in pass 1 so the global dedup reads columns, not samples.

The exact key is the hash exact dedup compares. The MinHash signature is the one the Dedup tool
computes for the sample (tools/dedup_signature.py: same 5-grams, permutations and seed): its
bands give the LSH candidates (two samples are candidates when one band's rows are all equal
and the share of equal values reaches the cut, tools/dedup_lsh.py). The shingle fingerprint
gives the exact similarity of the candidates (dedup_links.py).
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


def signatures(samples: Sequence[Sample], options: ScoreOptions) -> tuple[list[np.ndarray], np.ndarray]:
    """The samples' shingle fingerprints and MinHash signatures (32-bit values), as dedup_minhash.MinHashFinder
    computes them."""
    from assay.tools.dedup_minhash import sample_text
    from assay.tools.dedup_signature import text_features

    settings = dedup_options(options.screen)
    return text_features([sample_text(s) for s in samples], settings["shingle_size"], settings["num_perm"],
                         options.seed)


def lsh_params(options: ScoreOptions) -> tuple[int, int]:
    """(bands, rows per band) of the LSH index the Dedup tool builds for these options."""
    from assay.tools.dedup_lsh import banding

    settings = dedup_options(options.screen)
    return banding(relevant_floor(options), settings["num_perm"], settings["shingle_size"], settings.get("bands"))


def proposal_cut(options: ScoreOptions) -> float:
    """The least share of equal signature values at which the Dedup tool proposes a pair (dedup_lsh.plausible_cut)."""
    from assay.tools.dedup_lsh import plausible_cut

    settings = dedup_options(options.screen)
    return plausible_cut(relevant_floor(options), settings["num_perm"], settings["shingle_size"])


def relevant_floor(options: ScoreOptions) -> float:
    """The lowest Jaccard similarity at which a MinHash candidate can verify: the threshold, or the edited-copy
    floor when edited copies count."""
    settings = dedup_options(options.screen)
    edited = settings["edited"]
    return min(settings["minhash_threshold"], edited.edited_floor) if edited else settings["minhash_threshold"]
