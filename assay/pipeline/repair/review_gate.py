"""What the review gates ask of the session: the round's pending proposals, and the export's review.

The gates themselves (graphs/) interrupt the run while something waits; a person decides with
`assay review`, and `assay resume` continues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assay.core.plan import TargetStatus
from assay.core.records import Status
from assay.pipeline.export import CURATED, LINEAGE, REJECTED, REPORT
from assay.session.proposals import Proposal, propose, proposals


def pending_proposals(session: Any, round: int) -> int:
    """How many of the round's proposals still wait for a decision."""
    return len(proposals(session.conn, round=round, status="pending"))


def propose_export(session: Any, stop_reason: str | None, stop_message: str,
                   targets: Sequence[TargetStatus] = ()) -> None:
    """Put the export up for review: how many samples it writes, to which files, why the loop
    stopped, and each target as the last measurement found it (so a reviewer sees what it misses)."""
    selected = sum(1 for _ in session.samples.iter(status=Status.SELECTED))
    total = session.samples.count()
    missed = [t.name for t in targets if not t.met]
    summary = f"export {selected} selected samples ({stop_reason}: {stop_message})"
    if missed:
        summary += f"; misses {', '.join(missed)}"
    propose(session.conn, session.runtime.clock, round=None, kind="export", auto_approve=False, summary=summary,
            payload={"selected": selected, "rejected": total - selected, "stop_reason": stop_reason,
                     "files": [str(session.dir / name) for name in (CURATED, REJECTED, LINEAGE, REPORT)],
                     "targets": [t.model_dump() for t in targets]})


def export_facts(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What an export item is, for a reviewer: counts, files, and each target as met or missed
    ("size: 63 of 180", "mean_quality: 3.41 vs 3.80"). An item from before targets were recorded has none."""
    selected = payload.get("selected")
    targets = []
    for t in payload.get("targets", []):
        if t["name"] == "size":
            text = f"{selected} selected of {t['target']:g} ({_num(t['achieved'])} qualify)"
        else:
            text = f"{_num(t['achieved'])} vs target {_num(t['target'])}"
        targets.append({"name": t["name"], "met": t["met"], "text": text, "detail": t.get("detail", "")})
    return {"selected": selected, "rejected": payload.get("rejected"), "stop_reason": payload.get("stop_reason"),
            "files": payload.get("files", []), "targets": targets, "recorded": "targets" in payload,
            "missed": [f"{t['name']}: {t['text']}" for t in targets if not t["met"]]}


def _num(value: float | None) -> str:
    """A number as a person reads it: counts whole, scores to two places."""
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def export_pending(session: Any) -> bool:
    """Whether the export still waits for review."""
    return bool(proposals(session.conn, kind="export", status="pending"))


def export_decision(session: Any) -> Proposal:
    """The reviewed export item (one per session)."""
    (item,) = proposals(session.conn, kind="export")
    return item
