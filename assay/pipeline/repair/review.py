"""Review decisions (`assay review`, the viewer's review buttons): approve or reject pending proposals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

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


class ItemView(NamedTuple):
    """A pending item as a person reviews it: the proposal, its parent's messages, and the judge's reasons."""

    item: Proposal
    parent: list[dict[str, str]] | None  # the messages of the sample it replaces or grows from
    proposed: list[dict[str, str]] | None  # the proposed sample's messages (None: the export item)
    reasons: list[str]  # the decisions that made it, then each judge call's verdict and rationale


def item_views(directory: Path, runtime: Runtime, ids: Sequence[int] = ()) -> list[ItemView]:
    """The pending items (or just `ids`) with what a reviewer needs to decide; read only."""
    session = Session.open_read_only(directory, runtime)
    try:
        pending = proposals(session.conn, status="pending")
        return [_view(session.conn, p) for p in pending if not ids or p.id in ids]
    finally:
        session.close()


def _view(conn: Any, item: Proposal) -> ItemView:
    parent = None
    if item.parent_id:
        row = conn.execute("SELECT messages FROM samples WHERE id = ?", (item.parent_id,)).fetchone()
        parent = json.loads(row["messages"]) if row else None
    proposed = item.payload.get("sample", {}).get("messages")
    return ItemView(item, parent, proposed, judge_reasons(conn, item.sample_id, item.parent_id))


def judge_reasons(conn: Any, sample_id: str | None, parent_id: str | None) -> list[str]:
    """The decisions naming a proposed sample (the rewriter's or synthesizer's), then each of their
    judge calls' verdict and rationale (for a rewrite: the pairwise judge in both orders)."""
    if not sample_id:
        return []
    # The rewriter's decision sits on the parent and names the rewrite; the synthesizer's, on the new sample.
    rows = conn.execute(
        "SELECT agent, action, reason, call_ids FROM decisions WHERE sample_id = ? OR (sample_id = ? AND reason LIKE ?)"
        " ORDER BY id", (sample_id, parent_id or sample_id, f"%{sample_id}%")).fetchall()
    found: list[str] = []
    calls: list[int] = []
    for row in rows:
        found.append(f"{row['agent']} {row['action']}: {row['reason'] or ''}".rstrip(": "))
        calls += json.loads(row["call_ids"] or "[]")
    for call in calls:
        verdict = conn.execute("SELECT prompt_version, response FROM llm_calls WHERE id = ? AND agent = 'judge'",
                               (call,)).fetchone()
        if verdict is not None:
            found.append(f"judge call {call} ({verdict['prompt_version']}): {_verdict(verdict['response'])}")
    return found


def _verdict(response: str | None) -> str:
    """A judge answer's verdict and rationale; the raw text when it is not the JSON the judge was asked for."""
    if not response:
        return "no answer"
    text = response.strip().removeprefix("```json").removesuffix("```").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return response
    if not isinstance(data, dict):
        return response
    verdict = data.get("winner", data.get("overall", "?"))
    return f"{verdict} — {data.get('rationale') or data.get('reason') or ''}".rstrip(" —")
