"""The viewer's "Preference pairs" page: the DPO/KTO pairs a session's own evidence yields, at the same
default filters as `assay export DIR --preference-pairs F` (`assay.pipeline.preference.build_pairs`).

Built on the page's first view, not when the viewer starts (it reads every verdict, repair proposal
and sibling decision), in a worker thread with its own read-only session; the viewer keeps the result
until the session DB changes (`Viewer.cached_in_thread`), as for the Synthetic vs real page. Each page
of the list then diffs only its own pairs.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException

from assay.pipeline.preference.build import build_pairs
from assay.pipeline.preference.model import DEFAULT_MIN_MARGIN, SOURCES, PairOptions
from assay.session.session import Runtime, Session
from assay.ui.diff import side_by_side
from assay.ui.queries import link_target

PAGE_SIZE = 20
NOTE = ("This session holds no preference evidence yet: no repair the pairwise judge preferred, no synthetic "
        "siblings kept and rejected, no judged answers to one instruction.")


def session_pairs(directory: Path, runtime: Runtime) -> dict[str, Any]:
    """The page's context: the counts by source and reason and every kept pair (its JSONL row plus where
    each id leads in the viewer), or a note when the session yields no candidate pair at all.
    Opens its own read-only session (it runs in a worker thread, away from the viewer's connection)."""
    session = Session.open_read_only(directory, runtime)
    try:
        conn = session.conn
        built = build_pairs(conn, PairOptions())  # export's defaults: min margin 1.0, every source
        summary = {**built.summary(), "min_margin": DEFAULT_MIN_MARGIN}
        if not built.pairs and not built.dropped:
            return {**summary, "note": NOTE, "rows": []}
        rows = []
        for pair in built.pairs:
            row = pair.row()
            prov = row["provenance"]
            row["links"] = {"chosen": link_target(conn, prov["chosen_id"]),
                            "rejected": link_target(conn, prov["rejected_id"])}
            row["verdicts"] = [_verdict(conn, i) for i in prov["verdict_ids"]]
            row["decisions"] = [_decision(conn, i) for i in prov["decision_ids"]]
            rows.append(row)
        return {**summary, "note": None, "rows": rows}
    finally:
        session.close()


def pair_page(found: dict[str, Any], source: str | None, start: int) -> dict[str, Any]:
    """One page of the kept pairs (of one source when given), each with the side-by-side diff of its
    replies: rejected on the left, chosen on the right."""
    if source is not None and source not in SOURCES:
        raise HTTPException(400, f"unknown pair source {source!r}; choose from {', '.join(SOURCES)}")
    rows = [r for r in found["rows"] if source is None or r["source"] == source]
    start = max(0, start)
    shown = []
    for number, row in enumerate(rows[start:start + PAGE_SIZE], start=start + 1):
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        diff = {"role": "reply: rejected (left) · chosen (right)", "changed": chosen != rejected,
                "rows": side_by_side(rejected, chosen)}
        shown.append({**row, "number": number, "diff": diff})
    return {"pairs": shown, "total": len(rows), "start": start, "source": source,
            "prev": start - PAGE_SIZE if start > 0 else None,
            "next": start + PAGE_SIZE if start + PAGE_SIZE < len(rows) else None}


def _verdict(conn: sqlite3.Connection, verdict_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT sample_id, overall, call_ids FROM judgements WHERE id = ?", (verdict_id,)).fetchone()
    if row is None:  # the builder read it from this DB: only a concurrent rewrite of the table could lose it
        return {"id": verdict_id, "sample_id": None, "overall": None, "call_ids": []}
    return {"id": verdict_id, "sample_id": row[0], "overall": row[1], "call_ids": json.loads(row[2] or "[]")}


def _decision(conn: sqlite3.Connection, decision_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT agent, action, sample_id FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    return {"id": decision_id, "agent": row[0] if row else None, "action": row[1] if row else None,
            "sample_id": row[2] if row else None}
