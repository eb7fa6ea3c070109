"""The bias-cue stage of `assay run` (`[cues] detect` / `[cues] repair`): once, after the pool is first judged.

Detection needs every sample's outcome, so it runs when judging is done, before the first
measurement; it runs once per session (the stage's state is in the session's meta). With
`repair`, the repair is a round of its own (a `rounds` row, action repair, the rationale naming
the cues) rather than part of a policy repair round: the policy picks repair rounds by the
quality gap they close, which a cue repair does not aim at, and may never pick one. The round's
kept rewrites then pass the review gate and apply like any repair, and the loop screens and
judges them before it measures. A kill mid-stage resumes it: the detection run is reused, and
the repair continues with the samples not yet attempted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assay.core.errors import AssayError
from assay.core.plan import Plan, RoundRecord

STAGE_META = "cue_stage"  # {"run_id": detection run, "round": the repair round, "done": bool}


@dataclass(frozen=True)
class CueStage:
    """What the stage did: None when it did not run; the repair round when it opened one."""

    ran: bool
    round: int | None = None
    record: RoundRecord | None = None
    plan: Plan | None = None
    budget_spent: str | None = None


def due(session: Any) -> bool:
    """Whether the stage still has to run in this session."""
    cues = session.config.cues
    return (cues.detect or cues.repair) and not session.meta(STAGE_META, {}).get("done", False)


async def run_cue_stage(deps: Any, round: int) -> CueStage:
    """Detect once; with `repair`, repair the cue carriers as round `round + 1`. Returns what it did."""
    from assay.pipeline.cues.detect import DetectOptions, detect_session
    from assay.pipeline.repair.cue_cost import describe_cue_repair
    from assay.pipeline.repair.cues import repair_cues_of, run_cue_repairs, select_carriers
    from assay.pipeline.rounds import record_round
    from assay.session.bias_cues import latest_findings, latest_run_id

    session = deps.session
    settings = session.config.cues
    stage = dict(session.meta(STAGE_META, {}))
    if stage.get("run_id") is None:
        options = DetectOptions(outcome=settings.outcome, alpha=settings.alpha, min_share=settings.min_support)
        try:
            report = detect_session(session, options)
        except AssayError as err:
            # Too few judged samples or one outcome for all: the run goes on without cues, and says why.
            session.trace.event("cues", f"bias-cue detection skipped: {err}", {})
            deps.emit("note", {"message": f"bias-cue detection skipped: {err}"})
            session.set_meta(STAGE_META, {"run_id": None, "done": True, "skipped": str(err)})
            return CueStage(ran=True)
        deps.emit("note", {"message": f"bias cues: {len(report.significant)} of {len(report.findings)} candidates "
                                      f"associated with the {settings.outcome} beyond cluster and length"})
        stage = {"run_id": report.run_id, "done": False}
        session.set_meta(STAGE_META, stage)
    findings = latest_findings(session.conn) if latest_run_id(session.conn) == stage["run_id"] else []
    cues = repair_cues_of(findings)
    if not settings.repair or not cues:
        session.set_meta(STAGE_META, {**stage, "done": True})
        return CueStage(ran=True)
    n = round + 1
    selection = select_carriers(session, cues, settings.max_repairs, n)
    # The round's cost is said with its plan, as the policy's rounds say theirs (a dry run shows it too).
    plan = Plan(action="repair", rationale=f"bias-cue repair: remove {len(cues)} significant cues "
                f"({', '.join(c.key() for c in cues[:5])}) from the samples that carry them; "
                f"{describe_cue_repair(len(selection.chosen), len(selection.carrying))}")
    record_round(session, n, plan, {})
    deps.emit("plan", {"round": n, "action": "repair (bias cues)", "rationale": plan.rationale})
    report = await run_cue_repairs(session, findings, settings, round=n, review=deps.options.review,
                                   agents=_agents(deps, session, n), emit=deps.emit, selection=selection)
    session.set_meta(STAGE_META, {**stage, "round": n, "done": True})
    record = RoundRecord(round=n, action="repair", rationale=plan.rationale, metrics={},
                         outcome={"cue_repair": {"kept": report.proposals}})
    return CueStage(ran=True, round=n, record=record, plan=plan, budget_spent=report.budget_spent)


def _agents(deps: Any, session: Any, round: int) -> Any:
    """The round's agent contexts from the run's deps (so calls are traced with the round)."""
    from assay.pipeline.repair.cues import session_agents

    return session_agents(session, round, agent=lambda role, r: deps.agent(role, r))
