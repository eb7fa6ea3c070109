"""A later round's additions screened against the active pool without holding the pool as Samples.

The heuristics, code checks, decontamination and plugins see only the fresh samples; dedup alone
compares them with the pool (screen/candidates.py). Two samples can share a dedup group only
through a chain of candidate pairs, and a candidate pair shares an exact key or one MinHash band
(the rows of one LSH band, equal). So the pool samples that matter are the closure of the fresh
samples' keys over the pool's keys: those sharing a key with a fresh sample, then those sharing
one with them, and so on. Dedup over that subset, in pool order, gives each fresh sample the
verdict the whole pool would (the groups holding fresh samples are whole in it).

Memory: one pass over the active pool in batches (a cursor) keeps its ids, exact keys (16 bytes)
and one 64-bit hash per LSH band, never its signatures or Samples; only the closure's samples,
usually a handful, are loaded. A hash collision only adds a pool sample to the subset, which
cannot change a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay.core.records import Sample, Status
from assay.pipeline.screen.scoring import ScoreOptions

POOL_BATCH = 2000  # pool samples read and keyed at a time
_MIX = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: folds a band's rows into one key


def screen_additions(deps: Any, fresh: list[Sample], round: int, mark_done: Callable[[], None]) -> None:
    """Screen the fresh samples as screen/pool.py's `screen_additions` does, against only the pool samples
    that can share a dedup group with them."""
    from assay.pipeline.screen.pool import screen_additions as screen_against

    session = deps.session
    methods = tuple(m for m in deps.options.dedup if m != "semantic")  # the additions' dedup never embeds
    options = ScoreOptions(dedup=methods, seed=session.config.llm.seed, screen=session.config.screen)
    reference = dedup_reference(session, fresh, options) if fresh and methods else []
    screen_against(deps, fresh, round, mark_done, reference=reference)


def dedup_reference(session: Any, fresh: Sequence[Sample], options: ScoreOptions) -> list[Sample]:
    """The active pool samples (fresh ones left out) in the closure of the fresh samples' dedup keys, in pool order."""
    fresh_ids = {s.id for s in fresh}
    ids: list[str] = []
    exact: list[np.ndarray] = []
    bands: list[np.ndarray] = []
    for batch in session.samples.batches(status=Status.ACTIVE, size=POOL_BATCH):
        batch = [s for s in batch if s.id not in fresh_ids]
        if not batch:
            continue
        keys = dedup_keys(batch, options)
        ids.extend(s.id for s in batch)
        exact.append(keys[0])
        bands.append(keys[1])
    if not ids:
        return []
    pool_exact, pool_bands = np.concatenate(exact), np.concatenate(bands)
    del exact, bands
    chosen = np.zeros(len(ids), dtype=bool)
    frontier = dedup_keys(list(fresh), options)
    while True:
        hit = np.isin(pool_exact, frontier[0]) if len(pool_exact) else np.zeros(len(ids), dtype=bool)
        for band in range(pool_bands.shape[1]):
            hit |= np.isin(pool_bands[:, band], frontier[1][:, band])
        new = hit & ~chosen
        if not new.any():
            break
        chosen |= new
        frontier = (pool_exact[new] if len(pool_exact) else pool_exact, pool_bands[new])
    return session.samples.get([ids[i] for i in np.flatnonzero(chosen)])


def dedup_keys(samples: Sequence[Sample], options: ScoreOptions) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's exact key (S16; an empty column when exact dedup is off) and one uint64 key per LSH band (none when
    MinHash is off), from the features the engine's global dedup groups by (dedup_features.py)."""
    from assay.pipeline.engine.dedup_features import dedup_features, lsh_params

    features = dedup_features(samples, options)
    count = len(samples)
    # Without exact dedup no exact key may join two samples: an empty key column stands for none.
    exact = (np.array([features[s.id]["exact_key"] for s in samples], dtype="S16") if "exact" in options.dedup
             else np.zeros(0, dtype="S16"))
    if "minhash" not in options.dedup:
        return exact, np.zeros((count, 0), dtype=np.uint64)
    signatures = np.stack([np.asarray(features[s.id]["signature"], dtype=np.uint32) for s in samples])
    bands, rows = lsh_params(options)
    keys = np.empty((count, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):  # the fold wraps by design
        for band in range(bands):
            key = np.full(count, 0xCBF29CE484222325, dtype=np.uint64)
            for column in signatures[:, band * rows:(band + 1) * rows].T.astype(np.uint64):
                key = (key ^ column) * _MIX
            keys[:, band] = key
    return exact, keys
