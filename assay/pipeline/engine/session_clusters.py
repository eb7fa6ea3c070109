"""The round-0 screen's last stage, streamed: cluster the survivors and score their novelty, one part a batch.

The in-memory screen's `clusters` stage (scoring.py) runs the ClusterTagger over every survivor at
once. It needs a global view, so this step holds what it needs and no more: the survivors' ids and
their stored vectors, read from the session's vector files a batch at a time into one float32
matrix. Novelty is computed for every survivor at once, as the in-memory stage computes it: the
matrix products behind it round alike only over the same tiles of rows (a batch's rows alone may
differ in the last bit), and it is a float32 per survivor; each part then takes its batch's share.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from assay.pipeline.engine import write_pass
from assay.pipeline.engine.parts import Parts

PART = "clusters"


def cluster_survivors(session: Any, parts: Parts, batches: int, seed: int,
                      fault: Callable[[str, int], None]) -> list[dict[str, Any]]:
    """Write each batch's cluster part (id, novelty, cluster of its survivors) not yet written; the stage reports."""
    todo = [i for i in range(batches) if not parts.done(PART, i)]
    if todo:
        started = time.perf_counter()
        tagger = _tagger(session, parts, batches, seed)
        scores = _novelty(tagger)
        built = time.perf_counter() - started
        for index in todo:
            started = time.perf_counter()
            _write(parts, index, tagger, scores, built + time.perf_counter() - started)
            built = 0.0  # building the tagger is counted once, with the first part written
            fault("clusters", index)
    reports: list[dict[str, Any]] = []
    for index in range(batches):
        reports.extend(parts.stages(PART, index))
    return reports


def _survivor_ids(parts: Parts, batches: int) -> list[str]:
    ids: list[str] = []
    for index in range(batches):
        table = parts.read_table(write_pass.PART, index, columns=["id", "keep"]).to_pydict()
        ids.extend(i for i, keep in zip(table["id"], table["keep"], strict=True) if keep)
    return ids


def _tagger(session: Any, parts: Parts, batches: int, seed: int) -> Any:
    """The ClusterTagger over every survivor, as the in-memory clusters stage builds it (same order, same seed)."""
    from assay.tools.coverage import ClusterTagger

    store = session.store
    ids = _survivor_ids(parts, batches)
    step = 4096
    chunks = [np.asarray(store.vectors(ids[start:start + step]), dtype=np.float32) for start in range(0, len(ids), step)]
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
    del chunks
    return ClusterTagger(ids, vectors, embed=store.embedder.encode, n_clusters=None, seed=seed)


def _novelty(tagger: Any) -> np.ndarray:
    """Every survivor's novelty, as the tagger scores the whole pool at once (each skips itself)."""
    from assay.tools.coverage import novelty

    return novelty(tagger.vectors, tagger.vectors, tagger.neighbours, exclude=np.arange(len(tagger.vectors)))


def _write(parts: Parts, index: int, tagger: Any, scores: np.ndarray, seconds: float) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    verdicts = parts.read_table(write_pass.PART, index, columns=["id", "keep"])
    ids = verdicts.filter(pc.field("keep")).column("id").to_pylist()
    rows = np.array([tagger.row_of[i] for i in ids], dtype=np.int64)
    report = {"name": "clusters", "seen": len(ids), "dropped": 0, "seconds": seconds}
    table = pa.table({"id": pa.array(ids, type=pa.string()),
                      "novelty": pa.array([float(v) for v in scores[rows]], type=pa.float64()),
                      "cluster": pa.array(tagger.clustering.labels[rows].astype(np.int64), type=pa.int64())})
    parts.write_table(table.replace_schema_metadata({"stages": json.dumps([report])}), PART, index)
