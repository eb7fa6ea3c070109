"""Rubric refinement inside `assay run` (`[rubric] refine = true`): after a review, before the next round is judged.

A run in review mode pauses at its review gate until a person has decided the round's items
(`assay review`), and is then resumed. With `[rubric] refine`, the resumed gate runs the same
refinement as `assay rubric refine` (`refine`, called as it is) on every item a person decided
so far, once per review that decided new ones. A kept proposal becomes the rubric in force
(pipeline/rubric/in_force.py): stored in the session's recipe, it judges the rest of the run,
pointwise and pairwise, and survives a kill or a second resume. Every refinement ends in one
trace decision (agent `rubric_refine`): `rubric_switched`, `rubric_unchanged` (nothing kept, or
too few decisions yet) or `rubric_refine_stopped` (the budget ran out; as the command, it then
records nothing else, and the run stops as on any spent budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AGENT = "rubric_refine"
SEEN_META = "rubric_refine_seen"  # the decided item ids the last refinement of the run saw


@dataclass(frozen=True)
class InRunRefinement:
    """What the gate's refinement did: the trace action, and the budget's message when it ran out."""

    action: str | None  # None: nothing to do (off, not in review mode, no new decisions)
    budget_spent: str | None = None


async def refine_after_review(deps: Any, round: int) -> InRunRefinement:
    """Refine the rubric when the recipe asks for it and a person decided items since the last refinement."""
    from assay.core.errors import BudgetExhausted
    from assay.pipeline.plugins import judge_function
    from assay.pipeline.rubric.items import review_cases
    from assay.pipeline.rubric.refine import MIN_DECIDED, RefineOptions, refine

    session = deps.session
    settings = session.config.rubric
    if not settings.refine or not deps.options.review:
        return InRunRefinement(None)
    decided = sorted(c.id for c in review_cases(session.conn))
    if decided == session.meta(SEEN_META, []):
        return InRunRefinement(None)  # no new decision (or a re-run after a kill that already refined)
    if len(decided) < MIN_DECIDED:
        _record(session, decided, "rubric_unchanged", round,
                f"{len(decided)} review item(s) decided by a person so far; refining the rubric needs at least "
                f"{MIN_DECIDED}: the run keeps judging under its rubric")
        return InRunRefinement("rubric_unchanged")
    judge_ctx, editor_ctx = deps.agent("judge", round), deps.agent("rubric_editor", round)  # as the command's
    judge = judge_function(session.config.plugins, code_criterion=session.config.judge.code_criterion)
    options = RefineOptions(holdout=settings.holdout, rounds=settings.rounds, seed=settings.seed, rank_pending=False)
    deps.emit("note", {"message": f"refining the judge's rubric from {len(decided)} review decisions"})
    try:
        report = await refine(session, judge_ctx, editor_ctx, judge, options)
    except BudgetExhausted as err:
        # As `assay rubric refine`: nothing of the refinement is recorded; its calls are cached for a rerun.
        session.trace.decision(None, AGENT, "rubric_refine_stopped", round=round,
                               reason=f"budget spent while refining the rubric: {err}; the rubric is unchanged")
        return InRunRefinement("rubric_refine_stopped", str(err))
    scores = {"agreement_before": report.base_agreement, "agreement_after": report.final_agreement}
    calls = [i for p in report.proposals for i in p.call_ids]
    measured = (f"held-out agreement {report.base_agreement:.3f} -> {report.final_agreement:.3f} on "
                f"{report.n_holdout} items ({report.n_train} for training)")
    if report.kept is None:
        _record(session, decided, "rubric_unchanged", round, f"refinement {report.refinement_id}: no proposal raised "
                f"held-out agreement above {report.base_agreement:.3f} on {report.n_holdout} items; the run keeps "
                "judging under its rubric", scores, calls)
        deps.emit("note", {"message": "rubric refinement: no proposal agreed better with the review decisions; "
                                      "the rubric is unchanged"})
        return InRunRefinement("rubric_unchanged")
    was = ", ".join(c.name for c in session.config.judge.rubric)
    now = ", ".join(c.name for c in report.kept)
    _record(session, decided, "rubric_switched", round, f"refinement {report.refinement_id}: {measured}; the run "
            f"judges under the refined rubric from here on: {now} (was: {was})", scores, calls, report.kept)
    deps.emit("note", {"message": f"rubric refined ({measured}); the rest of the run judges under: {now}"})
    return InRunRefinement("rubric_switched")


def _record(session: Any, decided: list[int], action: str, round: int, reason: str,
            scores: dict[str, float] | None = None, calls: list[int] | None = None, rubric: Any = None) -> None:
    """The outcome's trace decision, the decided items seen and (on a switch) the new rubric, in one transaction."""
    import json

    from assay.pipeline.rubric.in_force import switch_rubric

    with session.conn:
        if rubric is not None:
            switch_rubric(session, rubric)
        session.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SEEN_META, json.dumps(decided)))
        session.trace.decision(None, AGENT, action, reason=reason, scores=scores or {}, call_ids=calls or [],
                               round=round)
