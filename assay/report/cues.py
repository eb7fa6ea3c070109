"""The report's bias-cue section: each significant cue of the latest detection, its prevalence at detection and now.

Before is the share of the tested responses carrying the cue when it was detected; after is
the share of the current pool carrying it (the selected samples once selection ran, else the
active ones; after any repair, `assay cues repair`), decided by the same `Cue.present`. Present
only when the session has findings (`assay cues detect DIR`, or `[cues] detect = true` in `assay run`).
"""

from __future__ import annotations

from typing import Any

from assay.core.records import Status
from assay.session.bias_cues import latest_findings
from assay.trace.view import has_table


def cue_summary(session: Any) -> dict[str, Any] | None:
    """The latest run's significant cues with prevalence before and after, or None when there are no findings."""
    if not has_table(session.conn, "bias_cue_findings"):
        return None
    findings = latest_findings(session.conn)
    if not findings:
        return None
    significant = [f for f in findings if f.significant]
    carrying = [0] * len(significant)
    active = 0
    # The pool now, as the rest of the report reads it: the selected samples once `select` ran
    # (then only the unjudged are still active), else the active pool.
    selected = session.conn.execute("SELECT 1 FROM samples WHERE status = ? LIMIT 1", (Status.SELECTED.value,))
    pool = Status.SELECTED if selected.fetchone() else Status.ACTIVE
    for batch in session.samples.batches(status=pool):
        for sample in batch:
            active += 1
            text = sample.response
            for i, f in enumerate(significant):
                carrying[i] += f.cue.present(text)
    first = findings[0]
    rows = [{"kind": f.cue.kind, "text": f.cue.text, "before": f.prevalence, "carriers_before": f.carriers,
             "after": carrying[i] / active if active else None, "carriers_after": carrying[i],
             "effect": f.effect, "adjusted_p": f.adjusted_p} for i, f in enumerate(significant)]
    return {"outcome": first.outcome, "n": first.n, "alpha": first.alpha, "method": first.method,
            "tested": len(findings), "created_at": first.created_at, "active": active,
            "pool": "selected" if pool is Status.SELECTED else "active", "rows": rows}
