"""`assay cues repair DIR`: one bias-cue repair round on an existing session, outside `assay run`.

The round is a real round of the session: a `rounds` row (action repair, the rationale naming the
cues), its attempts traced under that round, its kept rewrites proposed in it. Without review
they are applied at once; with `--review` they wait for `assay review`, and the next
`assay cues repair` applies what was approved before it repairs anything new. Rewrites come into
the pool unjudged (the pairwise judge already found each at least as good as its original).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.plan import Plan
from assay.pipeline.repair.cues import CueRepairReport, prevalence, repair_cues_of, run_cue_repairs

CLI_ROUNDS_META = "cue_repair_rounds"  # rounds `assay cues repair` opened, applied once decided


@dataclass
class CueSessionReport:
    """The round's report, prevalence of each repaired cue before and after, and what was applied."""

    repair: CueRepairReport
    before: dict[str, float]
    after: dict[str, float]
    applied: dict[int, int]  # round -> repairs applied by this call
    pending: int  # proposals waiting for review
    calls: int
    session: str


def repair_session(directory: Path, runtime: Any, config: Config, *, review: bool, max_repairs: int | None = None,
                   emit: Callable[[str, dict[str, Any]], None] = lambda kind, data: None) -> CueSessionReport:
    """Apply the earlier cue rounds' approved rewrites, then repair the cues of the latest detection."""
    from assay.pipeline.repair.apply import apply_round
    from assay.pipeline.rounds import record_round
    from assay.session.bias_cues import latest_findings
    from assay.session.proposals import proposals
    from assay.session.session import Session

    session = Session.open(directory, runtime, config, create=False)
    try:
        findings = latest_findings(session.conn)
        if not findings:
            raise AssayError(f"{session.dir}: no bias cues detected yet; run `assay cues detect {session.dir}` first")
        ours = list(session.meta(CLI_ROUNDS_META, []))
        others = [p for p in proposals(session.conn, status="pending") if p.round not in ours]
        if others:
            raise AssayError(f"{len(others)} review items of the curation run wait for a decision; decide them with "
                             f"`assay review {session.dir}` (and `assay resume`) before a cue repair")
        applied = {}
        for earlier in ours:
            if not proposals(session.conn, round=earlier, status="pending"):
                result = apply_round(session, earlier)
                if result.counts is not None:
                    applied[earlier] = len(result.repairs)
        cues = repair_cues_of(findings)
        before = prevalence(session, cues)
        calls_before = _calls(session)
        row = session.conn.execute("SELECT MAX(round) FROM rounds").fetchone()
        round = int(row[0] or 0) + 1
        record_round(session, round, Plan(action="repair", rationale=(
            f"bias-cue repair (assay cues repair): {len(cues)} significant removable cues: "
            + ", ".join(c.key() for c in cues[:5]))), {})
        session.set_meta(CLI_ROUNDS_META, [*ours, round])
        report = asyncio.run(run_cue_repairs(session, findings, session.config.cues, round=round, review=review,
                                             max_repairs=max_repairs, emit=emit))
        if not review:
            applied[round] = len(apply_round(session, round).repairs)
        return CueSessionReport(report, before, prevalence(session, cues), applied,
                                len(proposals(session.conn, round=round, status="pending")),
                                _calls(session) - calls_before, str(session.dir))
    finally:
        session.close()


def _calls(session: Any) -> int:
    return int(session.conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0])
