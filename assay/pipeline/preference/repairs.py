"""Pairs from repairs: a rewrite the pairwise judge preferred in both orders is chosen, its original rejected.

The rewriter proposes a rewrite only when both orders of the pairwise comparison prefer it
(agents/rewriter.py), so every repair proposal is a two-order preference; attempts whose
orders disagreed (a tie) are counted as dropped `orders_disagree`. A proposal a reviewer
rejected (or has not decided) is not a pair: the person's word overrides the judge's.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from assay.pipeline.preference.evidence import (
    Verdict, barred_as_chosen, calls_of, decision_ids, samples_by_id, split_reply, verdicts,
)
from assay.pipeline.preference.model import PreferencePair
from assay.session.proposals import proposals

SOURCE = "repair"


def repair_pairs(conn: sqlite3.Connection, scores: dict[str, Verdict] | None = None,
                 ) -> tuple[list[PreferencePair], Counter[str]]:
    """Every repair proposal as a pair (before the margin filter), and the drops by reason."""
    scores = verdicts(conn) if scores is None else scores
    dropped: Counter[str] = Counter()
    ties = conn.execute("SELECT COUNT(*) FROM decisions WHERE agent = 'rewriter' AND action = 'rewrite_rejected'"
                        " AND reason LIKE 'tie:%'").fetchone()[0]
    if ties:
        dropped["orders_disagree"] += int(ties)
    items = proposals(conn, kind="repair")
    pool = samples_by_id(conn, [i for p in items for i in (p.parent_id, p.sample_id) if i])
    pairs = []
    for item in items:
        if item.status != "approved":
            dropped[f"review_{item.status}"] += 1
            continue
        original = pool.get(item.parent_id or "")
        rewrite = item.sample()
        if original is None:
            dropped["original_missing"] += 1
            continue
        before, after = split_reply(original.messages), split_reply(rewrite.messages)
        if before is None or after is None or before[1] == after[1]:
            dropped["no_response_change"] += 1
            continue
        barred = barred_as_chosen(pool.get(rewrite.id))
        if barred:
            dropped[barred] += 1
            continue
        accepted = [d for d in decision_ids(conn, original.id, "rewriter", ("rewrite_accepted",))
                    if rewrite.id in (_reason(conn, d) or "")]
        call_ids = [c for d in accepted for c in _call_ids(conn, d)]
        applied = decision_ids(conn, rewrite.id, "curation", ("repair_applied",)) + \
            decision_ids(conn, rewrite.id, "review", ("repair_applied",))
        chosen_v, rejected_v = scores.get(rewrite.id), scores.get(original.id)
        margin = chosen_v.overall - rejected_v.overall if chosen_v and rejected_v else None
        # The judge read the ORIGINAL instruction (rewriter.py): the prompt is the original's turns.
        pairs.append(PreferencePair(
            SOURCE, before[0], after[1], before[1], rewrite.id, original.id, margin, True,
            tuple(v.id for v in (chosen_v, rejected_v) if v is not None),
            tuple(calls_of(conn, call_ids, "judge")), tuple(sorted(accepted + applied))))
    return pairs, dropped


def _reason(conn: sqlite3.Connection, decision_id: int) -> str | None:
    row = conn.execute("SELECT reason FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    return row[0] if row else None


def _call_ids(conn: sqlite3.Connection, decision_id: int) -> list[int]:
    row = conn.execute("SELECT call_ids FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    return [int(i) for i in json.loads(row[0])] if row else []
