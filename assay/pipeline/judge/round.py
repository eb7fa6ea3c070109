"""Judge what a round left unjudged: new samples, and earlier failures with attempts left."""

from __future__ import annotations

from typing import Any

from assay.core.records import Status


async def judge_pending(deps: Any, round: int) -> Any:
    """Judge the active samples with no verdict yet and attempts left (a failure of an earlier
    pass is tried again here); returns the pass's report, or None when there was nothing to do."""
    from assay.pipeline.judge.pool import JudgePoolReport, judge_by_llm, judge_pool
    from assay.session.judgements import judge_attempts, to_judge

    session = deps.session
    pending = to_judge(session.conn, session.samples.iter(status=Status.ACTIVE), session.config.judge.max_attempts)
    if not pending:
        return None
    deps.emit("stage", {"name": "judge", "total": len(pending)})
    tried = judge_attempts(session.conn, [s.id for s in pending])
    fresh = [s for s in pending if s.id not in tried]
    report = await judge_pool(deps, fresh, round) if fresh else JudgePoolReport()
    if not report.budget_spent and len(fresh) < len(pending):
        # A retry is the LLM's: the classifier of --judge-sample scores only samples it was never asked about.
        await judge_by_llm(deps, [s for s in pending if s.id in tried], round, report)
    deps.emit("judged", report.summary())
    return report
