"""The round-0 screen's last stage, streamed: cluster the survivors and score their novelty, one part a batch.

The in-memory screen's `clusters` stage (scoring.py) runs the ClusterTagger over every survivor at
once. It needs a global view, so this step holds what it needs and no more: the survivors' ids and
their stored vectors, read from the session's vector files a batch at a time into one float32
matrix. Samples are parsed one batch at a time (the tagger reads only their ids for pool members).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from assay.pipeline.engine import screen_pass, write_pass
from assay.pipeline.engine.parts import Parts

PART = "clusters"


def cluster_survivors(session: Any, parts: Parts, batches: int, seed: int,
                      fault: Callable[[str, int], None]) -> list[dict[str, Any]]:
    """Write each batch's cluster part (id, novelty, cluster of its survivors) not yet written; the stage reports."""
    todo = [i for i in range(batches) if not parts.done(PART, i)]
    if todo:
        started = time.perf_counter()
        tagger = _tagger(session, parts, batches, seed)
        built = time.perf_counter() - started
        for index in todo:
            started = time.perf_counter()
            _write(parts, index, tagger, built + time.perf_counter() - started)
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


def _write(parts: Parts, index: int, tagger: Any, seconds: float) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from assay.core.records import Sample

    verdicts = parts.read_table(write_pass.PART, index, columns=["position", "keep"])
    kept = verdicts.filter(pc.field("keep")).column("position")
    screen = parts.read_table(screen_pass.PART, index, columns=["position", "sample"])
    screen = screen.filter(pc.is_in(screen.column("position"), value_set=kept))
    samples = [Sample.model_validate_json(text) for text in screen.column("sample").to_pylist()]
    assessments = tagger(samples) if samples else []
    report = {"name": "clusters", "seen": len(samples), "dropped": 0, "seconds": seconds}
    table = pa.table({"id": pa.array([s.id for s in samples], type=pa.string()),
                      "novelty": pa.array([a.scores["novelty"] for a in assessments], type=pa.float64()),
                      "cluster": pa.array([int(a.scores["cluster"]) for a in assessments], type=pa.int64())})
    parts.write_table(table.replace_schema_metadata({"stages": json.dumps([report])}), PART, index)
