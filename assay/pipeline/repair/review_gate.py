"""What the review gates ask of the session: the round's pending proposals, and the export's review.

The gates themselves (graphs/) interrupt the run while something waits; a person decides with
`assay review`, and `assay resume` continues.
"""

from __future__ import annotations

from typing import Any

from assay.core.records import Status
from assay.session.proposals import Proposal, propose, proposals


def pending_proposals(session: Any, round: int) -> int:
    """How many of the round's proposals still wait for a decision."""
    return len(proposals(session.conn, round=round, status="pending"))


def propose_export(session: Any, stop_reason: str | None, stop_message: str) -> None:
    """Put the export up for review, with how many samples it would write and why the loop stopped."""
    selected = sum(1 for _ in session.samples.iter(status=Status.SELECTED))
    propose(session.conn, session.runtime.clock, round=None, kind="export", auto_approve=False,
            summary=f"export {selected} selected samples ({stop_reason}: {stop_message})",
            payload={"selected": selected, "stop_reason": stop_reason})


def export_pending(session: Any) -> bool:
    """Whether the export still waits for review."""
    return bool(proposals(session.conn, kind="export", status="pending"))


def export_decision(session: Any) -> Proposal:
    """The reviewed export item (one per session)."""
    (item,) = proposals(session.conn, kind="export")
    return item
