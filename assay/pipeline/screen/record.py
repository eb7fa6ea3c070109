"""Record a screening result in a session: statuses, scores, cluster tags and decisions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from assay.core.records import Status
from assay.session.session import Session
from assay.tools.screen import ScreenResult
from assay.trace.log import Decision


def apply_screen(session: Session, result: ScreenResult, clusters: Mapping[str, int], *, round: int | None = None) -> None:
    """Write every verdict to the store and one traced decision per drop (samples stay, with a reason)."""
    store = session.store
    store.add(result.samples, round=round)
    by_reason: dict[str, list[str]] = defaultdict(list)
    for sample_id, outcome in result.outcomes.items():
        if not outcome.keep:
            by_reason[outcome.reason or "dropped"].append(sample_id)
    for reason, ids in by_reason.items():
        store.set_status(ids, Status.DROPPED, reason)
    store.set_scores({sample_id: o.scores for sample_id, o in result.outcomes.items() if o.scores})
    if clusters:
        store.set_tags({sample_id: {"cluster": [str(label)]} for sample_id, label in clusters.items()})
    session.trace.decisions([
        Decision(sample_id, stage, "drop", result.outcomes[sample_id].reason, result.outcomes[sample_id].scores, round=round)
        for sample_id, stage in result.dropped_by.items()
    ])
    reports = [vars(stage) for stage in result.stages]
    dropped = sum(stage.dropped for stage in result.stages)
    session.trace.event("screen", f"screened {len(result.samples)} samples; dropped {dropped}", {"stages": reports}, round=round)
