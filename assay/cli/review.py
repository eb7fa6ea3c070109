"""`assay review DIR`: list a session's pending proposals and approve or reject them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from assay.core.errors import AssayError
from assay.session.proposals import Proposal, decide, proposals
from assay.core.safe_text import cells
from assay.session.session import Runtime, Session


def review(directory: Path, runtime: Runtime, *, approve: Sequence[int], reject: Sequence[int], approve_all: bool,
           reject_all: bool, note: str | None, by: str) -> tuple[list[Proposal], dict[str, int]]:
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
        return proposals(opened.conn, status="pending"), changed
    finally:
        opened.close()


def reviewer_name() -> str:
    """Who is deciding: the login name, or "cli" where the container has none."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def pending_table(items: Sequence[Proposal]) -> Table:
    """The pending items, one row each."""
    table = Table(title=f"{len(items)} pending review item{'s' if len(items) != 1 else ''}")
    for column in ("id", "round", "kind", "sample", "from", "summary"):
        table.add_column(column)
    for item in items:
        # Cells as Text: a summary quotes model text, which a plain string cell would parse as markup.
        table.add_row(*cells(item.id, item.round if item.round is not None else "-", item.kind,
                             item.sample_id or "-", item.parent_id or "-", item.summary))
    return table
