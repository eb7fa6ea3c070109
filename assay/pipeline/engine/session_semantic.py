"""Semantic dedup in the streamed round-0 screen: the pairs over the whole pool, then dedup group by group.

The in-memory screen's Dedup tool finds semantic pairs by block products over every dedup input's
stored vector (tools/dedup_semantic.py `semantic_pairs`, not the store's index), keeps those that
pose the same task (dedup_task.py `SemanticTaskRule`), and joins them with the exact and MinHash
pairs. Here the same three steps run without the pool's samples:

1. Pairs: the survivors of pass 1 (the dedup's input, in input order) have their stored vectors
   read a batch at a time into one float32 matrix, what clustering holds too, and `semantic_pairs`
   runs over it: the very call on the very matrix, so the very pairs and similarities.
2. Same task: the pairs are checked a batch of input at a time, holding only the samples of pairs
   whose later member is not yet read, and with the session's encoder (the in-memory one's).
3. Merge: the pairs that stand join the exact/MinHash candidate groups (dedup_groups.py), and each
   group's Dedup gets its pairs as found (`dedup(..., semantic_found=)`): exact and semantic pairs
   first, MinHash verifying only what they left apart, one keeper per cluster, as in memory.

The pairs that stand are written as a part, so a resumed screen does not find them again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions

PART = "semantic"


@dataclass(frozen=True)
class SemanticPairs:
    """Semantic pairs as input positions (first < second), ordered by (first, second), and their similarities."""

    first: np.ndarray
    second: np.ndarray
    similarity: np.ndarray

    def merge(self, positions: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidate groups (positions, labels) joined by these pairs, as dedup_groups.components gives them."""
        from assay.pipeline.engine.dedup_groups import components

        if not len(self.first):
            return positions, labels
        nodes = np.unique(np.concatenate([positions, self.first, self.second]))
        order = np.lexsort((positions, labels))  # each group's members next to each other: chained
        chained = positions[order]
        same = labels[order][1:] == labels[order][:-1]
        links = [(np.searchsorted(nodes, chained[:-1][same]), np.searchsorted(nodes, chained[1:][same])),
                 (np.searchsorted(nodes, self.first), np.searchsorted(nodes, self.second))]
        return components(len(nodes), nodes, links)

    def within(self, positions: tuple[int, ...]) -> tuple[tuple[int, int, float], ...]:
        """The pairs among `positions` (ascending), as (index, index, similarity) into `positions`."""
        local = {position: index for index, position in enumerate(positions)}
        found = []
        for position in positions:
            lo, hi = np.searchsorted(self.first, [position, position + 1])
            for second, similarity in zip(self.second[lo:hi].tolist(), self.similarity[lo:hi].tolist(), strict=True):
                found.append((local[position], local[second], similarity))
        return tuple(found)


def semantic_pairs_of(session: Any, parts: Parts, batches: int, batch_size: int, options: ScoreOptions) -> SemanticPairs:
    """The semantic pairs among pass 1's survivors that pose the same task (the part, when written already)."""
    import pyarrow as pa

    from assay.pipeline.screen.scoring import dedup_options

    if not parts.done(PART):
        settings = dedup_options(options.screen)
        found = _raw_pairs(session, parts, batches, settings["semantic_threshold"])
        if settings["semantic_task"] is not None and len(found.first):
            found = _same_task(session, parts, batches, batch_size, found, settings["semantic_task"])
        table = pa.table({"first": pa.array(found.first, type=pa.int64()), "second": pa.array(found.second, type=pa.int64()),
                          "similarity": pa.array(found.similarity, type=pa.float64())})
        parts.write_table(table.replace_schema_metadata({"pairs": json.dumps(len(found.first))}), PART)
    table = parts.read_table(PART)
    return SemanticPairs(*(table.column(name).to_numpy() for name in ("first", "second", "similarity")))


def _raw_pairs(session: Any, parts: Parts, batches: int, threshold: float) -> SemanticPairs:
    """`semantic_pairs` over the survivors' stored vectors, as input positions."""
    import pyarrow.compute as pc

    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART
    from assay.tools.dedup_semantic import semantic_pairs

    store = session.store
    positions: list[np.ndarray] = []
    chunks: list[np.ndarray] = []
    for index in range(batches):
        table = parts.read_table(SCREEN_PART, index, columns=["position", "id", "keep"])
        table = table.filter(pc.fill_null(table.column("keep"), False))
        if len(table):
            positions.append(table.column("position").to_numpy())
            chunks.append(np.asarray(store.vectors(table.column("id").to_pylist()), dtype=np.float32))
    if not chunks:
        return _pairs([], [], [])
    position = np.concatenate(positions)
    vectors = np.concatenate(chunks)
    del chunks
    found = semantic_pairs(vectors, threshold=threshold)
    del vectors
    return _pairs(position[[p.first for p in found]], position[[p.second for p in found]], [p.similarity for p in found])


def _same_task(session: Any, parts: Parts, batches: int, batch_size: int, found: SemanticPairs, rule: Any) -> SemanticPairs:
    """The pairs `rule` accepts, checked once both samples are read; a sample is held until its last pair is checked."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from assay.core.records import Sample
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    encode = session.store.embedder.encode
    closes = found.second // batch_size  # the batch whose read completes each pair
    last = defaultdict(int)  # position -> the batch after which it is needed no more
    for first, second, batch in zip(found.first.tolist(), found.second.tolist(), closes.tolist(), strict=True):
        last[first] = max(last[first], batch)
        last[second] = max(last[second], batch)
    wanted = np.fromiter(last, dtype=np.int64)
    held: dict[int, Sample] = {}
    keep = np.zeros(len(found.first), dtype=bool)
    for index in range(batches):
        table = parts.read_table(SCREEN_PART, index, columns=["position", "sample"])
        table = table.filter(pc.is_in(table.column("position"), value_set=pa.array(wanted)))
        for position, text in zip(table.column("position").to_pylist(), table.column("sample").to_pylist(), strict=True):
            held[position] = Sample.model_validate_json(text)
        rows = np.nonzero(closes == index)[0]
        if len(rows):
            members = sorted({p for row in rows.tolist() for p in (int(found.first[row]), int(found.second[row]))})
            local = {p: i for i, p in enumerate(members)}
            pairs = [(local[int(found.first[row])], local[int(found.second[row])]) for row in rows.tolist()]
            keep[rows] = rule.holds_for([held[p] for p in members], pairs, encode)
        for position in [p for p in held if last[p] <= index]:
            del held[position]
    return _pairs(found.first[keep], found.second[keep], found.similarity[keep])


def _pairs(first: Any, second: Any, similarity: Any) -> SemanticPairs:
    return SemanticPairs(np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64),
                         np.asarray(similarity, dtype=np.float64))
