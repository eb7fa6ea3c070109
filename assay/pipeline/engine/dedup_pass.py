"""The global dedup step: candidate groups from the parts' key columns, then dedup within each group.

Two survivors can only be duplicates if exact dedup or a verified MinHash pair joins them: the
same exact key, or an LSH candidate pair (one band of their signatures equal) whose Jaccard
similarity reaches the lowest value that can verify (`relevant_floor`). The pool splits into
candidate groups, the connected components of those links, found with numpy over the key and
signature columns alone; a sample alone in its group is kept with no dedup scores, as the
in-memory engine keeps it. Each group is then deduplicated by the very Dedup tool the in-memory
engine runs (tools/dedup*.py): its pairs, clusters, keeper and reasons only ever involve samples
of one group, so deduplicating group by group gives the same verdicts as the whole pool at once.

LSH alone links unrelated Alpaca-like texts (~0.5 % of all pairs at 31 bands of 4 rows), which
would join nearly the whole pool into one group, so each candidate pair is checked first: the
MinHash estimate of its similarity (the share of equal signature values) sets aside the pairs
seven standard deviations under the floor (a pair whose true similarity reaches the floor falls
there with probability about 1e-12), and the exact Jaccard similarity of the shingle
fingerprints, as the Dedup tool computes it, decides the rest.

Groups are gathered in one sequential read of the parts; a group's samples are loaded once its
last member has been read and sent to the executor with others up to a batch's worth, so memory
holds the key and signature columns and the groups still open, never the pool's samples.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assay.pipeline.engine.executor import Executor
from assay.pipeline.engine.parts import Parts
from assay.pipeline.progress import StartTask
from assay.pipeline.screen.scoring import ScoreOptions

PART = "dedup"
DONE = "dedup-done"


@dataclass(frozen=True)
class DedupJob:
    """Whole candidate groups: their samples (JSON) and input positions, in input order."""

    positions: tuple[int, ...]
    samples: tuple[str, ...]
    options: ScoreOptions


def dedup_group(job: DedupJob) -> dict[str, Any]:
    """The Dedup tool over the job's samples; the verdicts of those it dropped or scored (the others are kept
    with no dedup scores, like a sample alone in its group)."""
    from assay.core.records import Sample
    from assay.pipeline.screen.scoring import build_stages

    only_dedup = replace(job.options, heuristics=False, decontam=(), ifd=False, plugins=(), embed=False)
    (stage,) = build_stages(only_dedup, None)
    samples = [Sample.model_validate_json(text) for text in job.samples]
    verdicts = stage.run(samples)
    return {"seen": len(samples), "verdicts": [
        {"position": position, "keep": v.keep, "reason": v.reason, "detail": v.detail, "scores": json.dumps(v.scores)}
        for position, v in zip(job.positions, verdicts, strict=True) if not v.keep or v.scores]}


def candidate_groups(parts: Parts, batches: int, options: ScoreOptions) -> tuple[int, np.ndarray, np.ndarray]:
    """(survivors, their positions in groups of two or more, each one's group label), from the key columns."""
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    positions, exact, signature, sizes = [], [], [], []
    for index in range(batches):
        table = parts.read_table(SCREEN_PART, index, columns=["position", "keep", "exact_key", "signature"])
        table = table.filter(table.column("keep").fill_null(False))
        positions.append(table.column("position").to_numpy())
        exact.append(table.column("exact_key"))
        signature.append(table.column("signature"))
        sizes.append(len(table))
    position = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    count = len(position)
    links: list[tuple[np.ndarray, np.ndarray]] = []
    keys = _exact_keys(exact, count)
    if keys is not None:
        order = np.argsort(keys, kind="stable")
        same = keys[order][1:] == keys[order][:-1]
        links.append((order[:-1][same], order[1:][same]))  # each exact group linked in a chain
    signatures = _signatures(signature, count)
    if signatures is not None:
        links.append(_similar_pairs(parts, sizes, _plausible_pairs(signatures, options), options))
    first = np.concatenate([f for f, _ in links]) if links else np.zeros(0, dtype=np.int64)
    second = np.concatenate([s for _, s in links]) if links else np.zeros(0, dtype=np.int64)
    if not len(first):
        return count, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(first), dtype=bool), (first, second)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    grouped = sizes[labels] >= 2
    return count, position[grouped], labels[grouped]


def plausible_cut(options: ScoreOptions, perms: int) -> float:
    """The least estimated similarity that links a candidate pair: the floor's estimate less 7 sd."""
    from assay.pipeline.engine.dedup_features import relevant_floor

    floor = relevant_floor(options)
    return floor - 7 * np.sqrt(floor * (1 - floor) / perms)


def _plausible_pairs(signatures: np.ndarray, options: ScoreOptions) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every LSH candidate pair (all rows of some band equal) whose estimated similarity can reach the floor."""
    from assay.pipeline.engine.dedup_features import lsh_params

    bands, rows = lsh_params(options)
    cut = plausible_cut(options, signatures.shape[1])
    found = []
    for band in range(bands):
        block = signatures[:, band * rows:(band + 1) * rows].astype(np.uint64)
        # Two 32-bit rows per 64-bit sort key: rows equal exactly, no hashing that could collide.
        packed = [block[:, i] << np.uint64(32) | (block[:, i + 1] if i + 1 < rows else np.uint64(0))
                  for i in range(0, rows, 2)]
        order = np.lexsort(packed[::-1])
        ordered = np.stack([p[order] for p in packed], axis=1)
        alive = np.arange(max(len(order) - 1, 0))
        step = 0
        while len(alive):  # pair each row with the row `step` further on, while both are in one group
            step += 1
            alive = alive[alive + step < len(order)]
            alive = alive[(ordered[alive] == ordered[alive + step]).all(axis=1)]
            for start in range(0, len(alive), 50_000):  # bounded temporaries (50k pairs x 128 values)
                a, b = order[alive[start:start + 50_000]], order[alive[start:start + 50_000] + step]
                if cut > 0:
                    plausible = (signatures[a] == signatures[b]).mean(axis=1) >= cut
                    a, b = a[plausible], b[plausible]
                found.append((a, b))
    return found


def _similar_pairs(parts: Parts, sizes: list[int], plausible: list[tuple[np.ndarray, np.ndarray]],
                   options: ScoreOptions) -> tuple[np.ndarray, np.ndarray]:
    """The plausible pairs whose exact Jaccard similarity (of the shingle fingerprints, as the Dedup tool
    verifies it) reaches the floor; only their samples' fingerprints are loaded."""
    from assay.pipeline.engine.dedup_features import relevant_floor
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART
    from assay.tools.dedup import fingerprint_jaccard

    first = np.concatenate([a for a, _ in plausible]) if plausible else np.zeros(0, dtype=np.int64)
    second = np.concatenate([b for _, b in plausible]) if plausible else np.zeros(0, dtype=np.int64)
    low, high = np.minimum(first, second), np.maximum(first, second)
    count = max(sum(sizes), 1)
    pairs = np.unique(low.astype(np.int64) * count + high)  # a pair found in several bands is checked once
    first, second = pairs // count, pairs % count
    needed = np.unique(np.concatenate([first, second]))
    shingles: dict[int, np.ndarray] = {}
    offset = 0
    for index, size in enumerate(sizes):  # node numbers run over the survivors, batch after batch
        wanted = needed[(needed >= offset) & (needed < offset + size)]
        if len(wanted):
            table = parts.read_table(SCREEN_PART, index, columns=["keep", "shingles"])
            column = table.filter(table.column("keep").fill_null(False)).column("shingles").combine_chunks()
            for node in wanted.tolist():
                shingles[node] = column[node - offset].values.to_numpy()
        offset += size
    floor = relevant_floor(options)
    similar = np.fromiter((fingerprint_jaccard(shingles[a], shingles[b]) >= floor
                           for a, b in zip(first.tolist(), second.tolist(), strict=True)), dtype=bool, count=len(first))
    return first[similar], second[similar]


def _signatures(columns: list[Any], count: int) -> np.ndarray | None:
    """The survivors' MinHash signatures as a matrix (None when MinHash is off)."""
    column = _joined(columns)
    if column is None or column.null_count == count:
        return None
    return column.flatten().to_numpy().reshape(count, -1)


def _exact_keys(columns: list[Any], count: int) -> np.ndarray | None:
    """The survivors' exact keys (None when exact dedup is off)."""
    column = _joined(columns)
    if column is None or column.null_count == count:
        return None
    return np.array(column.to_pylist(), dtype="S16")


def _joined(columns: list[Any]) -> Any:
    """The per-batch chunked columns as one array."""
    import pyarrow as pa

    arrays = [chunk for column in columns for chunk in column.chunks]
    return pa.concat_arrays(arrays) if arrays else None


def run_dedup(parts: Parts, batches: int, batch_size: int, options: ScoreOptions, executor: Executor,
              progress: StartTask) -> dict[str, Any]:
    """Dedup the survivors of pass 1 and write the verdicts, one part per batch that has any; returns the
    stage report (name, seen, dropped) and `computed` (1, or 0 when a finished dedup was reused)."""
    if parts.done(DONE):
        report = json.loads(parts.read_table(DONE).schema.metadata[b"report"])
        return {**report, "computed": 0}
    # An executor may form the groups itself (the Ray executor shuffles the keys over its cluster); same result.
    groups = getattr(executor, "candidate_groups", candidate_groups)
    seen, positions, labels = groups(parts, batches, options)
    advance = progress("dedup", len(positions))
    by_batch: dict[int, list[dict[str, Any]]] = defaultdict(list)
    dropped = 0
    for result in executor.map(dedup_group, _jobs(parts, batches, batch_size, positions, labels, options)):
        advance(result["seen"])
        for verdict in result["verdicts"]:
            by_batch[verdict["position"] // batch_size].append(verdict)
            dropped += not verdict["keep"]
    import pyarrow as pa

    for index, verdicts in sorted(by_batch.items()):
        parts.write_table(pa.Table.from_pylist(sorted(verdicts, key=lambda v: v["position"])), PART, index)
    report = {"name": "dedup", "seen": seen, "dropped": dropped}
    parts.write_table(pa.table({"done": [True]}).replace_schema_metadata({"report": json.dumps(report)}), DONE)
    return {**report, "computed": 1}


def _jobs(parts: Parts, batches: int, batch_size: int, positions: np.ndarray, labels: np.ndarray,
          options: ScoreOptions) -> Iterator[DedupJob]:
    """Jobs of whole groups, each group sent once its last member is read, up to `batch_size` samples a job."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    if not len(positions):
        return
    last = np.zeros(labels.max() + 1, dtype=np.int64)
    np.maximum.at(last, labels, positions)
    closing: dict[int, list[int]] = defaultdict(list)  # batch -> the groups whose last member is in it
    for label in np.unique(labels):
        closing[int(last[label]) // batch_size].append(int(label))
    label_of = dict(zip(positions.tolist(), labels.tolist(), strict=True))
    open_groups: dict[int, list[tuple[int, str]]] = defaultdict(list)
    ready: list[tuple[int, str]] = []
    for index in range(batches):
        lo, hi = index * batch_size, (index + 1) * batch_size
        wanted = positions[(positions >= lo) & (positions < hi)]
        if len(wanted):
            table = parts.read_table(SCREEN_PART, index, columns=["position", "sample"])
            table = table.filter(pc.is_in(table.column("position"), value_set=pa.array(wanted, type=pa.int64())))
            for position, text in zip(table.column("position").to_pylist(), table.column("sample").to_pylist(),
                                      strict=True):
                open_groups[label_of[position]].append((position, text))
        for label in closing.get(index, ()):
            ready.extend(open_groups.pop(label))
        if len(ready) >= batch_size or (index == batches - 1 and ready):
            ready.sort()
            yield DedupJob(tuple(p for p, _ in ready), tuple(t for _, t in ready), options)
            ready = []
