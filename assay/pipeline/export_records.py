"""What each exported line holds: a sample in its own format, a rejected record with why, a lineage row.

The export streams the pool, so nothing here holds it: a rewrite's user fields come from its
parent, looked up by id when a rewrite is met (`Ancestors`), and verdicts are read for one
batch of ids at a time (`ok_verdicts`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assay.core.formats import sample_to_record
from assay.core.records import Origin, Sample, Status
from assay.session.proposals import proposals

CHUNK = 500  # ids per IN list: under SQLite's bound-parameter limit


class ById(Protocol):
    """Anything that finds a sample by id (a dict, or `Ancestors`)."""

    def get(self, sample_id: str) -> Sample | None: ...


@dataclass(frozen=True)
class Verdict:
    """A sample's latest successful verdict: its overall score and where it came from."""

    overall: float
    source: str


class Ancestors:
    """Samples by id, from the session DB first, then the proposed samples never pooled."""

    def __init__(self, table: Any, extra: Mapping[str, Sample]) -> None:
        self.table = table
        self.extra = extra

    def get(self, sample_id: str) -> Sample | None:
        """The sample with this id, or None."""
        found = self.table.get([sample_id])
        return found[0] if found else self.extra.get(sample_id)


def never_pooled(session: Any) -> list[Sample]:
    """Proposed samples that never entered the pool, dropped with why (rejected, pending, not applied).

    Bounded by the proposals (each one an LLM call), not by the pool."""
    items = [p for p in proposals(session.conn) if p.kind != "export" and "sample" in p.payload]
    candidates = [item.sample() for item in items]
    pooled = session.samples.known(s.id for s in candidates)
    found: dict[str, Sample] = {}
    for item, sample in zip(items, candidates, strict=True):
        if sample.id in pooled or sample.id in found:
            continue
        if item.status == "rejected":
            reason = f"{item.kind}_rejected_in_review:{item.note or f'rejected by {item.decided_by}'}"
        elif item.status == "pending":
            reason = f"{item.kind}_pending_review"
        else:
            reason = f"{item.kind}_not_applied"
        found[sample.id] = sample.model_copy(update={"status": Status.DROPPED, "reason": reason})
    return list(found.values())


def ok_verdicts(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Verdict]:
    """The latest successful verdict of each of these samples (as `latest_judgements` picks it, where it is ok).

    A sample whose latest verdict failed after an earlier success keeps the success; one with
    failures only has none. Read through the (sample_id, id) index, CHUNK ids at a time."""
    found: dict[str, Verdict] = {}
    for start in range(0, len(ids), CHUNK):
        part = list(ids[start : start + CHUNK])
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            "SELECT sample_id, overall, source FROM judgements WHERE id IN (SELECT MAX(id) FROM judgements"
            f" WHERE sample_id IN ({marks}) AND error IS NULL AND overall IS NOT NULL GROUP BY sample_id)", part)
        found.update((r[0], Verdict(r[1], r[2])) for r in rows)
    return found


def record_of(sample: Sample, by_id: ById) -> dict[str, Any]:
    """The sample in its own format; a rewrite keeps the user's fields of the record it replaces."""
    return sample_to_record(sample, inherit=_inherited(sample, by_id))


def _inherited(sample: Sample, by_id: ById) -> Origin | None:
    """The origin of the user's record a rewrite stands for (its parent's, up a chain of rewrites)."""
    seen = set()
    while sample.op == "rewrite" and (sample.origin is None or sample.origin.record is None) and sample.parent_ids:
        parent = by_id.get(sample.parent_ids[0])
        if parent is None or parent.id in seen:
            return None
        seen.add(parent.id)
        if parent.origin is not None and parent.origin.record is not None:
            return parent.origin
        sample = parent
    return None


def rejected_record(sample: Sample, by_id: ById) -> dict[str, Any]:
    """The sample in its own format, with an `_assay` object saying why it was rejected."""
    if not sample.reason:  # a sample still active at export (after a stop) is rejected too, and says so
        sample = sample.model_copy(update={"reason": "not_selected:still_active_at_export"})
    record = dict(record_of(sample, by_id))
    record["_assay"] = {"id": sample.id, "reason": sample.reason, "op": sample.op, "parent_ids": list(sample.parent_ids)}
    return record


def lineage_row(sample: Sample, verdict: Verdict | None) -> dict[str, Any]:
    """The sample's place in the lineage: parents, op, status and its judged quality."""
    return {
        "id": sample.id, "parent_ids": list(sample.parent_ids), "op": sample.op, "source": sample.source,
        "status": sample.status.value, "reason": sample.reason,
        "quality": verdict.overall if verdict is not None else None,
        "quality_source": verdict.source if verdict is not None else None,
    }
