"""The planner: the deterministic policy, the no-progress rule, and the LLM planner's checks."""

from __future__ import annotations

import json

from assay.agents.planner import PlannerChoice
from assay.core.plan import Measurement, Plan, RoundRecord, TargetStatus
from assay.pipeline.plan.round import llm_plan
from assay.pipeline.plan.policy import PlanningInput, allowed_actions, check_choice, made_progress, policy_plan
from assay.prompts import load_prompt
from assay.testing.scripted import scripted_context


def measurement(*, met: dict[str, bool], under: list[int] = (), topics: list[str] = (), qualifying: float = 10) -> Measurement:
    targets = [TargetStatus(name=n, target=1.0, achieved=0.5, met=m) for n, m in met.items()]
    metrics = {"qualifying": qualifying, "cluster_coverage": 0.5, "topic_coverage": None,
               "export_mean_quality": 3.5, "export_min_quality": 3.0}
    return Measurement(metrics, targets, {0: 5, 1: 1, 2: 0}, list(under), list(topics))


def test_policy_finishes_when_every_target_is_met() -> None:
    plan = policy_plan(PlanningInput(measurement(met={"size": True}), [], ["s1"]))
    assert plan.action == "finish" and plan.rationale == "every target is met"


def test_policy_repairs_before_it_expands() -> None:
    # The samples to repair sit under the floor, so a landed rewrite counts toward the size: cheaper than writing one.
    given = PlanningInput(measurement(met={"size": False, "cluster_coverage": False}, under=[2, 1]), [],
                          ["a", "b", "c"], repair_batch=2, quality_floor=3.0, repairable_scores={"a": 1.0, "b": 2.0})
    plan = policy_plan(given)
    assert plan.action == "repair" and plan.sample_ids == ["a", "b"]


def test_policy_expands_the_emptiest_clusters_by_their_deficit() -> None:
    given = PlanningInput(measurement(met={"cluster_coverage": False}, under=[2, 1]), [], [], cluster_min=3)
    plan = policy_plan(given)
    assert plan.action == "expand" and plan.clusters == [2, 1] and plan.n == 5  # (3-0) + (3-1)


def test_policy_expands_uncovered_topics_first() -> None:
    given = PlanningInput(measurement(met={"topic_coverage": False}, topics=["sql"]), [], [], cluster_min=3)
    plan = policy_plan(given)
    assert plan.action == "expand" and plan.topics == ["sql"] and plan.n == 3


def test_policy_gives_up_when_nothing_can_move_the_floor() -> None:
    plan = policy_plan(PlanningInput(measurement(met={"quality_floor": False}), [], []))
    assert plan.action == "finish" and "no action left" in plan.rationale


def test_no_progress_compares_with_the_pool_two_rounds_ago() -> None:
    history = [RoundRecord(round=i, action="repair", rationale="r", metrics={"qualifying": q})
               for i, q in ((1, 10.0), (2, 11.0))]
    assert made_progress(history, {"qualifying": 11.0})  # up from 10 two rounds ago
    assert not made_progress(history, {"qualifying": 10.0})
    assert made_progress(history[:1], {"qualifying": 10.0})  # too early to tell


def given_for_llm() -> PlanningInput:
    return PlanningInput(measurement(met={"size": False, "cluster_coverage": False}, under=[2]), [], ["a", "b"],
                         repair_batch=1, expand_batch=4)


def test_planner_prompt_renders_targets_metrics_and_allowed_actions() -> None:
    given = given_for_llm()
    m = given.measurement
    messages = load_prompt("planner").render(
        targets=m.targets, metrics={"qualifying": 10}, history=[], allowed=allowed_actions(given), repairable=2,
        repair_batch=1, expand_batch=4, under_covered={2: 0}, uncovered_topics=[], default_action="repair",
        default_rationale="size not met")
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("You plan the next round")
    assert messages[1]["content"] == (
        "Targets:\n- size: target 1.0, achieved 0.5 (NOT met)\n- cluster_coverage: target 1.0, achieved 0.5 (NOT met)\n\n"
        "Pool metrics:\n- qualifying: 10\n\nRounds so far:\n- none\n\nAllowed actions:\n"
        "- repair: 2 samples can be repaired, 1 per round\n"
        "- expand: under-covered clusters (cluster: good samples) {2: 0}; at most 4 new samples per round\n"
        "- finish\n\nThe default policy would choose: repair (size not met).\n\nChoose the next action.")


async def test_llm_plan_takes_a_valid_choice(session) -> None:
    answer = json.dumps({"action": "expand", "rationale": "cluster 2 is empty", "clusters": [2], "n": 9})
    ctx, fake = scripted_context(session, ["Sure:\n```json\n" + answer + "\n```"])
    plan = await llm_plan(ctx, given_for_llm(), fallback=Plan(action="repair", rationale="policy"))
    assert plan == Plan(action="expand", rationale="cluster 2 is empty", clusters=[2], n=4, planner="llm")
    assert fake.requests[0].schema == PlannerChoice.model_json_schema()


async def test_llm_plan_outside_the_allowed_actions_falls_back_to_the_policy(session) -> None:
    bad = json.dumps({"action": "expand", "rationale": "grow", "clusters": [99], "n": 2})
    ctx, _ = scripted_context(session, [bad])
    fallback = Plan(action="repair", rationale="policy says repair", sample_ids=["a"])
    plan = await llm_plan(ctx, given_for_llm(), fallback=fallback)
    assert plan.action == "repair" and plan.planner == "policy" and "unknown clusters [99]" in plan.rationale
    row = session.conn.execute("SELECT action, reason FROM decisions WHERE agent = 'planner'").fetchone()
    assert tuple(row) == ("llm_plan_rejected", "unknown clusters [99]")


async def test_a_broken_llm_answer_is_a_recorded_failure_and_the_policy_stands(session) -> None:
    ctx, _ = scripted_context(session, ["not json", "still not json"])
    plan = await llm_plan(ctx, given_for_llm(), fallback=Plan(action="finish", rationale="policy"))
    assert plan.action == "finish" and plan.planner == "policy" and "rejected" in plan.rationale


def test_check_choice_refuses_an_action_that_is_not_allowed() -> None:
    given = PlanningInput(measurement(met={"quality_floor": False}), [], [])
    choice = PlannerChoice(action="repair", rationale="fix")
    assert check_choice(choice, given) == "action 'repair' is not allowed now (allowed: finish)"
