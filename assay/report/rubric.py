"""The report's rubric-refinement section: each `assay rubric refine` run, its proposals, and the review order.

Per run (the newest five; older ones counted): the base rubric; each proposal's criteria against the rubric it was
edited from (the base, or the proposal kept before it), as added / edited / removed / same rows;
its held-out agreement before and after, and whether it was kept; where the kept rubric's
fragment was written. Also the decided items that fed the run: per split, how often the judge
under the base rubric agreed with the person, disagreed, tied (both-order pairwise) or failed;
and what the winning rubric did to them (fixed, broken, unchanged: `rubric_effects`). Then the
guideline effectiveness of the pending items: the top of the review order exactly as
`assay review` and the viewer's Review page rank it (`pipeline/rubric/priority.py`).

Without a run the section is one line saying how to run one, and only when a person has
decided review items; a session without review items has no section.
"""

from __future__ import annotations

import json
from typing import Any

from assay.pipeline.rubric.items import HUMAN, JUDGED_KINDS
from assay.pipeline.rubric.priority import review_priority
from assay.trace.view import has_table

PRIORITY_ROWS = 10  # the top of the review order; the rest is counted
RUNS_SHOWN = 5  # the newest runs; older ones are counted
SPLITS = ("train", "holdout")


def rubric_summary(session: Any) -> dict[str, Any] | None:
    """The refinement runs, the decided-item counts that fed them and the top pending items, or None (see module)."""
    conn = session.conn
    if not has_table(conn, "review_items"):
        return None
    kinds = ", ".join(f"'{k}'" for k in JUDGED_KINDS)
    decided = conn.execute(
        f"SELECT COUNT(*) FROM review_items WHERE kind IN ({kinds}) AND status IN ('approved', 'rejected')"
        " AND decided_by IS NOT NULL AND decided_by != 'auto'").fetchone()[0]
    ids = ([r[0] for r in conn.execute("SELECT id FROM rubric_refinements ORDER BY id DESC")]
           if has_table(conn, "rubric_refinements") else [])
    if not ids and not decided:
        return None
    runs = [_run(conn, i) for i in ids[:RUNS_SHOWN]]
    ranked = review_priority(session) if runs else []
    summaries = dict(conn.execute("SELECT id, summary FROM review_items WHERE status = 'pending'").fetchall())
    pending = [{"item_id": p.item_id, "score": p.score, "reason": p.reason, "summary": summaries.get(p.item_id, "")}
               for p in ranked[:PRIORITY_ROWS]]
    return {"decided": int(decided), "runs": runs, "runs_total": len(ids), "pending": pending,
            "pending_total": len(ranked)}


def _run(conn: Any, run_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM rubric_refinements WHERE id = ?", (run_id,)).fetchone()
    base = json.loads(row["base_rubric"])
    proposals, current, final = [], base, row["base_agreement"]
    for p in conn.execute("SELECT * FROM rubric_proposals WHERE refinement_id = ? ORDER BY n", (run_id,)):
        rubric = json.loads(p["rubric"]) if p["rubric"] else None
        proposals.append({
            "id": p["id"], "n": p["n"], "kept": bool(p["kept"]), "winner": p["id"] == row["winner"],
            "agreement_before": p["agreement_before"], "agreement_after": p["agreement_after"],
            "n_train": p["n_train"], "n_holdout": p["n_holdout"], "rationale": p["rationale"], "error": p["error"],
            "calls": len(json.loads(p["call_ids"])), "rubric": rubric,
            "edits": criteria_edits(current, rubric) if rubric else []})
        if p["kept"]:  # the next proposal was edited from this one (refine keeps the best so far)
            current, final = rubric, p["agreement_after"]
    kept = any(p["kept"] for p in proposals)
    return {"id": run_id, "ts": row["ts"], "model": row["model"], "seed": row["seed"], "holdout": row["holdout"],
            "n_train": row["n_train"], "n_holdout": row["n_holdout"], "keep_threshold": row["keep_threshold"],
            "base_rubric": base, "base_agreement": row["base_agreement"], "final_agreement": final, "kept": kept,
            "kept_rubric": current if kept else None, "fragment": row["fragment"], "counts": _counts(conn, run_id),
            "effects": _effects(conn, run_id), "ranked_pending": _ranked(conn, run_id, row["winner"]),
            "proposals": proposals}


def criteria_edits(before: list[dict[str, str]], after: list[dict[str, str]]) -> list[dict[str, Any]]:
    """A proposal's criteria against the rubric it was edited from, by name: same, edited, removed (in the
    order of `before`), then added. A renamed criterion reads as one removed and one added."""
    old = {c["name"]: c["description"] for c in before}
    new = {c["name"]: c["description"] for c in after}
    rows = []
    for name, description in old.items():
        if name not in new:
            rows.append({"change": "removed", "name": name, "before": description, "after": None})
        else:
            change = "same" if new[name] == description else "edited"
            rows.append({"change": change, "name": name, "before": description, "after": new[name]})
    rows += [{"change": "added", "name": n, "before": None, "after": d} for n, d in new.items() if n not in old]
    return rows


def _counts(conn: Any, run_id: int) -> dict[str, dict[str, int]]:
    """Per split, the decided items and how the judge under the base rubric compared with the person on them."""
    counts = {s: {"items": 0, "approve": 0, "reject": 0, "agree": 0, "disagree": 0, "ties": 0, "failed": 0}
              for s in SPLITS}
    for r in conn.execute(
            "SELECT v.split, v.decision, v.tie, i.status FROM rubric_verdicts v JOIN review_items i ON i.id = v.item_id"
            " WHERE v.refinement_id = ? AND v.rubric = 'base' AND v.split IN ('train', 'holdout')", (run_id,)):
        found, human = counts[r["split"]], HUMAN.get(r["status"])
        found["items"] += 1
        if human is not None:
            found[human] += 1
        # A tie is a rejection (the rewrite did not win both orders), counted under agree or disagree as
        # well: `ties` says how many of the judge's decisions were no decision at all.
        found["ties"] += bool(r["tie"])
        key = "failed" if r["decision"] is None else "agree" if r["decision"] == human else "disagree"
        found[key] += 1
    return counts


def _effects(conn: Any, run_id: int) -> dict[str, int]:
    """What the winning rubric did to the decided items it was measured on: fixed, broken, unchanged."""
    rows = dict(conn.execute("SELECT effect, COUNT(*) FROM rubric_effects WHERE refinement_id = ? GROUP BY effect",
                             (run_id,)).fetchall())
    return {"fixed": rows.get(1, 0), "broken": rows.get(-1, 0), "unchanged": rows.get(0, 0)}


def _ranked(conn: Any, run_id: int, winner: int | None) -> int:
    """How many pending items the run judged under the winning rubric (for the review order)."""
    if winner is None:
        return 0
    return conn.execute("SELECT COUNT(*) FROM rubric_verdicts WHERE refinement_id = ? AND rubric = ? AND"
                        " split = 'pending'", (run_id, str(winner))).fetchone()[0]
