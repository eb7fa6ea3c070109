"""Record the streamed round-0 screen in the session, batch by batch, as `apply_screen` records it at once.

Per batch, in one transaction: each dropped sample's status and reason, every sample's scores (its
novelty when it survived), each survivor's cluster tag, one decision per drop, and the count of
batches recorded. The last batch's transaction also holds the screen event (the stage totals) and
the round's done-mark. A rerun after a kill starts at the first batch not recorded, so nothing is
recorded twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from assay.core.records import Status
from assay.pipeline.engine import write_pass
from assay.pipeline.engine.parts import Parts
from assay.pipeline.engine.session_clusters import PART as CLUSTER_PART
from assay.trace.log import Decision

RECORDED_META = "screen_recorded"  # {"fingerprint", "batches"}: how many batches are in the session already


def record_batches(session: Any, parts: Parts, batches: int, stages: Sequence[dict[str, Any]], total: int,
                   mark_done: Callable[[], None], fault: Callable[[str, int], None]) -> None:
    """Record every batch not yet recorded (under this fingerprint); the last one closes the round."""
    state = session.meta(RECORDED_META) or {}
    start = state.get("batches", 0) if state.get("fingerprint") == parts.fingerprint else 0
    for index in range(start, batches):
        verdicts = parts.read_table(write_pass.PART, index, columns=["id", "keep", "reason", "dropped_by", "scores"])
        clusters = parts.read_table(CLUSTER_PART, index).to_pydict()
        with session.conn:
            _record(session, verdicts.to_pylist(), clusters)
            session.set_meta(RECORDED_META, {"fingerprint": parts.fingerprint, "batches": index + 1})
            if index == batches - 1:
                dropped = sum(stage["dropped"] for stage in stages)
                session.trace.event("screen", f"screened {total} samples; dropped {dropped}",
                                    {"stages": [dict(stage) for stage in stages]}, round=0)
                mark_done()
        fault("apply", index)


def _record(session: Any, rows: list[dict[str, Any]], clusters: dict[str, list[Any]]) -> None:
    store = session.store
    novelty = dict(zip(clusters["id"], clusters["novelty"], strict=True))
    by_reason: dict[str, list[str]] = defaultdict(list)
    scores: dict[str, dict[str, float]] = {}
    decisions: list[Decision] = []
    for row in rows:
        row_scores = json.loads(row["scores"])
        if row["id"] in novelty:
            row_scores["novelty"] = novelty[row["id"]]
        if row_scores:
            scores[row["id"]] = row_scores
        if not row["keep"]:
            by_reason[row["reason"] or "dropped"].append(row["id"])
            decisions.append(Decision(row["id"], row["dropped_by"], "drop", row["reason"], row_scores, round=0))
    for reason, ids in by_reason.items():
        store.set_status(ids, Status.DROPPED, reason)
    store.set_scores(scores)
    if clusters["id"]:
        store.set_tags({i: {"cluster": [str(label)]} for i, label in zip(clusters["id"], clusters["cluster"], strict=True)})
    session.trace.decisions(decisions)
