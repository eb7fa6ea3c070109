"""Review decisions (`assay review`, the viewer's review buttons): approve or reject pending proposals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from assay.core.errors import AssayError
from assay.session.proposals import Proposal, decide, proposals
from assay.session.session import Runtime, Session


class ReviewOutcome(NamedTuple):
    """The items still pending after a review call, and how many it approved and rejected."""

    pending: list[Proposal]
    changed: dict[str, int]


def review(directory: Path, runtime: Runtime, *, approve: Sequence[int], reject: Sequence[int], approve_all: bool,
           reject_all: bool, note: str | None, by: str) -> ReviewOutcome:
    """Apply the decisions asked for; returns the items still pending and how many changed."""
    if approve_all and reject_all:
        raise AssayError("choose --approve-all or --reject-all, not both")
    session = Session.open_read_only(directory, runtime)
    config = session.config
    session.close()
    opened = Session.open(directory, runtime, config, create=False)
    try:
        pending = proposals(opened.conn, status="pending")
        known = {p.id for p in pending}
        unknown = sorted((set(approve) | set(reject)) - known)
        if unknown:
            raise AssayError(f"no pending review items with ids {unknown}; pending: {sorted(known) or 'none'}")
        clash = sorted(set(approve) & set(reject))
        if clash:
            raise AssayError(f"items {clash} are both approved and rejected")
        approve_ids = sorted(known) if approve_all else list(approve)
        reject_ids = sorted(known) if reject_all else list(reject)
        changed = {"approved": 0, "rejected": 0}
        late: list[int] = []
        by_id = {p.id: p for p in pending}
        # One transaction: each item is decided and traced together, and only when the decision
        # took effect; an item someone else decided since our read undoes the whole call.
        with opened.conn:
            for verdict, ids in (("approved", approve_ids), ("rejected", reject_ids)):
                for item in ids:
                    if not decide(opened.conn, runtime.clock, [item], verdict, by=by, note=note):
                        late.append(item)
                        continue
                    changed[verdict] += 1
                    proposal = by_id[item]
                    opened.trace.decision(proposal.sample_id or proposal.parent_id, "review", f"item_{verdict}",
                                          reason=f"review item {item} ({proposal.kind}) {verdict} by {by}"
                                          + (f": {note}" if note else ""), round=proposal.round)
            if late:
                raise AssayError(f"review items {sorted(late)} were decided meanwhile by someone else; nothing was "
                                 "changed, run the review again")
        return ReviewOutcome(proposals(opened.conn, status="pending"), changed)
    finally:
        opened.close()
