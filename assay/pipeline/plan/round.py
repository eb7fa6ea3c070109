"""Plan a round: stop, or choose the next action (the policy's, or the LLM planner's when valid).

The graph's plan node hands over the round's measurement and history; this service decides
whether the loop stops, asks the planner, and writes the round's row. The LLM planner's
answer is checked against what can be done now; a failed call or an answer outside it falls
back to the policy's plan, and the trace says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.core.plan import Measurement, Plan, RoundRecord, StopReason
from assay.pipeline.plan.estimate import Observed, observed_from
from assay.pipeline.plan.policy import PlanningInput, allowed_actions, check_choice, made_progress, policy_plan
from assay.pipeline.repair.rewrites import repair_threshold, repairable
from assay.pipeline.rounds import record_round
from assay.session.judgements import latest_judgements


@dataclass(frozen=True)
class RoundPlan:
    """The plan for round `round`, and why the loop stops there (None: it goes on).

    `stopped`: the loop stopped before planning (a stop rule, not the planner's finish).
    """

    round: int
    plan: Plan
    stop_reason: StopReason | None = None
    stop_message: str = ""
    stopped: bool = False


async def plan_round(deps: Any, found: Measurement, *, round: int, history: Sequence[RoundRecord],
                     stop_reason: StopReason | None, stop_message: str) -> RoundPlan:
    """Decide round `round + 1`: a stop (recorded as a finish), or the planner's action."""
    session, options = deps.session, deps.options
    config = session.config
    next_round = round + 1
    stop = _stop(found, round, history, stop_reason, stop_message, config.budget.max_rounds)
    if stop is not None:
        reason, message = stop
        chosen = Plan(action="finish", rationale=message)
        record_round(session, next_round, chosen, found.metrics)
        return RoundPlan(next_round, chosen, reason, message, stopped=True)
    targets = config.targets
    fixable = repairable(session, repair_threshold(targets))
    verdicts = latest_judgements(session.conn, fixable[: options.repair_batch])
    given = PlanningInput(found, history, fixable, options.repair_batch, options.expand_batch, options.cluster_min,
                          targets.size, targets.quality_floor, targets.min_mean_quality,
                          {i: v.overall for i, v in verdicts.items() if v.ok}, _observed(session))
    chosen = policy_plan(given)
    if options.planner == "llm":
        chosen = await llm_plan(deps.agent("planner", next_round), given, fallback=chosen)
    record_round(session, next_round, chosen, found.metrics)
    if chosen.action == "finish":
        return RoundPlan(next_round, chosen, "targets_met" if found.all_met else "nothing_to_do", chosen.rationale)
    return RoundPlan(next_round, chosen)


def _observed(session: Any) -> Observed:
    """What the session's earlier rounds' repairs and expansions achieved (their `rounds` outcomes)."""
    rows = session.conn.execute("SELECT outcome FROM rounds WHERE outcome IS NOT NULL ORDER BY round")
    return observed_from([json.loads(row["outcome"]) for row in rows])


def _stop(found: Measurement, round: int, history: Sequence[RoundRecord], stop_reason: StopReason | None,
          stop_message: str, max_rounds: int) -> tuple[StopReason, str] | None:
    """(reason, message) when the loop must stop before planning another round."""
    if stop_reason is not None:
        return stop_reason, stop_message or stop_reason
    if found.all_met:
        return "targets_met", "every target is met"
    if round >= max_rounds:
        return "max_rounds", f"stopped after {round} rounds (max_rounds = {max_rounds})"
    if not made_progress(history, found.metrics):
        return "no_progress", "no target metric improved over the last two rounds"
    return None


async def llm_plan(ctx: Any, given: PlanningInput, *, fallback: Plan) -> Plan:
    """The LLM planner's plan when it is valid, else `fallback` (the policy's) with the reason recorded."""
    from assay.agents.planner import ask_planner

    m = given.measurement
    result = await ask_planner(
        ctx, targets=m.targets, metrics=m.metrics, history=given.history, allowed=allowed_actions(given),
        repairable=len(given.repairable), repair_batch=given.repair_batch, expand_batch=given.expand_batch,
        under_covered={c: m.cluster_counts.get(c, 0) for c in m.under_covered[:10]},
        uncovered_topics=m.uncovered_topics, default_action=fallback.action, default_rationale=fallback.rationale,
    )
    trace = ctx.gateway.trace
    problem = result.error if result.value is None else check_choice(result.value, given)
    if problem is not None:
        trace.decision(None, "planner", "llm_plan_rejected", reason=problem, call_ids=result.call_ids, round=ctx.round)
        return fallback.model_copy(update={"rationale": f"{fallback.rationale} (LLM planner answer rejected: {problem})"})
    choice = result.value
    trace.decision(None, "planner", f"llm_plan_{choice.action}", reason=choice.rationale, call_ids=result.call_ids,
                   round=ctx.round)
    if choice.action == "repair":
        return Plan(action="repair", rationale=choice.rationale, sample_ids=list(given.repairable[: given.repair_batch]),
                    planner="llm")
    if choice.action == "expand":
        n = max(1, min(choice.n or given.expand_batch, given.expand_batch))
        return Plan(action="expand", rationale=choice.rationale, clusters=choice.clusters, topics=choice.topics, n=n,
                    planner="llm")
    return Plan(action="finish", rationale=choice.rationale, planner="llm")
