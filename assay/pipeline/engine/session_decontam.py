"""Decontamination's embedding method in the streamed round-0 screen: vectors on the driver, cosines in the workers.

The in-memory screen builds one Decontaminator whose encoder is the session's (screen/pool.py's
VectorCache): it encodes the benchmark items once and every survivor's user turns (or, with
`embed_side = "text"`, reads its stored vector). Each sample's verdict depends only on its own
vector and the items', so the streamed screen computes the same vectors a batch at a time:

- the items' vectors, encoded once on the driver and written to the work folder, which every
  worker reads once per process (the broadcast: the parts folder is where workers already read
  and write, on one machine or on a Ray cluster);
- each batch's vectors, encoded on the driver before pass 1 and written as a part per batch, so
  the embedder (on Ray an actor pool holding CPUs) is done and released before the screen tasks
  run, and a resumed screen encodes only the batches it has not yet.

A worker's decontam stage is then the very Decontaminator (its n-gram index built once per
process, as `assay score` builds it) given the items' vectors, assessing each batch with the
batch's vectors: same verdicts, reasons and scores as the in-memory stage.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions

ITEMS = "decontam-items"
VECTORS = "decontam-vectors"
_decontaminators: dict[tuple[str, str, bytes], Any] = {}  # per process: the n-gram index and item vectors, once


def encode_batches(session: Any, parts: Parts, options: ScoreOptions, batches: Iterable[tuple[int, Any]]) -> None:
    """Write the items' vectors (once) and, for each (index, rows) given, the rows' vectors (a part per batch,
    skipped when written already). Rows are engine/batches.py's Rows: the seeds of that batch."""
    store = session.store
    if not parts.done(ITEMS):
        parts.write_table(_table(np.asarray(store.embedder.encode(_item_texts(options)), dtype=np.float32)), ITEMS)
    side = options.screen.decontam.embed_side
    for index, rows in batches:
        if parts.done(VECTORS, index):
            continue
        samples = [row.sample for row in rows if not row.repeat]
        if side == "text":  # the stored vector of each text: what the in-memory VectorCache answers
            vectors = store.vectors([s.id for s in samples]) if samples else np.zeros((0, 0), dtype=np.float32)
        else:
            from assay.tools.decontam import user_turns

            vectors = store.embedder.encode([user_turns(s) for s in samples])
        parts.write_table(_table(np.asarray(vectors, dtype=np.float32), [s.id for s in samples]), VECTORS, index)


def _item_texts(options: ScoreOptions) -> list[str]:
    """The benchmark items' texts, in the order the Decontaminator holds them."""
    from assay.tools.benchmarks import load_benchmark

    return [item.text for path in options.decontam for item in load_benchmark(path).items]


def embedding_stage(options: ScoreOptions, folder: Path, fingerprint: str, index: int) -> Any:
    """The decontam stage of batch `index`: the process's Decontaminator, assessing with the batch's stored vectors."""
    from assay.tools.screen import Stage

    parts = Parts(folder, fingerprint)
    decontaminator = _decontaminator(options, parts)
    table = parts.read_table(VECTORS, index)
    row_of = {sample_id: row for row, sample_id in enumerate(table.column("id").to_pylist())}
    vectors = _matrix(table)

    def run(batch: Any) -> list[Any]:
        return decontaminator.assess(batch, vectors[[row_of[s.id] for s in batch]])

    return Stage("decontam", run)


def _decontaminator(options: ScoreOptions, parts: Parts) -> Any:
    from assay.pipeline.screen.scoring import decontam_options
    from assay.tools.decontam import Decontaminator

    settings = options.screen.decontam
    key = (str(parts.folder), parts.fingerprint, pickle.dumps((options.decontam, settings)))
    if key not in _decontaminators:
        _decontaminators.clear()  # one screen at a time per process: an old one's index is dead weight
        items = _matrix(parts.read_table(ITEMS))
        _decontaminators[key] = Decontaminator(list(options.decontam), item_vectors=items,
                                               **decontam_options(settings, items))
    return _decontaminators[key]


def without_decontam(options: ScoreOptions) -> ScoreOptions:
    """The options with decontamination left to `embedding_stage`."""
    return replace(options, decontam=())


def _table(vectors: np.ndarray, ids: list[str] | None = None) -> Any:
    import pyarrow as pa

    width = vectors.shape[1] if vectors.ndim == 2 else 0
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()), width)
    return pa.table({"vector": column} if ids is None else {"id": pa.array(ids, type=pa.string()), "vector": column})


def _matrix(table: Any) -> np.ndarray:
    column = table.column("vector").combine_chunks()
    width = column.type.list_size
    if not width:
        return np.zeros((len(column), 0), dtype=np.float32)
    return column.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
