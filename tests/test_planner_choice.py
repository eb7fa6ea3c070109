"""The policy's choice between repair and expand: expected gap closed per LLM call, shown in the rationale."""

from __future__ import annotations

from assay.core.plan import Measurement, TargetStatus
from assay.pipeline.plan.estimate import Observed, observed_from, rate
from assay.pipeline.plan.policy import PlanningInput, policy_plan


def pool(*, qualifying: float, size: int, mean: float, mean_target: float | None, low: float) -> Measurement:
    """A measured pool: `qualifying` samples at or above the floor, the best `size` of them exported."""
    export = min(qualifying, size)
    targets = [TargetStatus(name="size", target=size, achieved=qualifying, met=qualifying >= size)]
    if mean_target is not None:
        targets.append(TargetStatus(name="mean_quality", target=mean_target, achieved=mean, met=mean >= mean_target))
    metrics = {"qualifying": qualifying, "export_size": export, "export_mean_quality": mean,
               "export_min_quality": low, "cluster_coverage": None, "topic_coverage": None}
    return Measurement(metrics, targets, {0: 40, 1: 30}, [], [])


def test_a_size_gap_that_repairs_cannot_close_is_expanded() -> None:
    # The run: 117 of 180 qualify; repairs landed 1 in 20 every round.
    history = Observed(repair_tried=40, repair_accepted=2)
    fixable = [f"r{i}" for i in range(25)]
    given = PlanningInput(pool(qualifying=117, size=180, mean=4.1, mean_target=None, low=3.0), [], fixable,
                          repair_batch=20, expand_batch=20, target_size=180, quality_floor=3.0,
                          repairable_scores={i: 2.0 for i in fixable}, observed=history)
    plan = policy_plan(given)
    assert plan.action == "expand" and plan.n == 20
    assert plan.rationale.startswith("repair: +1.8 qualifying")  # 20 x (2 + 0.5 x 4) / (40 + 4)
    assert "for 80 calls" in plan.rationale and "expand: +10.0 qualifying" in plan.rationale
    assert "for 100 calls" in plan.rationale and "-> expand: 63 more qualifying samples needed" in plan.rationale


def test_without_a_floor_repairs_add_nothing_to_the_size() -> None:
    # Every judged sample already counts toward the size: a rewrite cannot add one.
    given = PlanningInput(pool(qualifying=20, size=40, mean=3.5, mean_target=None, low=2.0), [], ["a", "b"],
                          target_size=40, repairable_scores={"a": 2.0, "b": 2.5})
    plan = policy_plan(given)
    assert plan.action == "expand" and "repair: +0.0 qualifying" in plan.rationale


def test_a_quality_gap_with_the_size_met_is_repaired() -> None:
    # 100 of 100 qualify; the mean 3.4 is short of 3.8 because of low scorers a rewrite can fix.
    fixable = [f"r{i}" for i in range(30)]
    given = PlanningInput(pool(qualifying=100, size=100, mean=3.4, mean_target=3.8, low=1.5), [], fixable,
                          repair_batch=20, expand_batch=20, target_size=100, mean_target=3.8,
                          repairable_scores={i: 1.5 for i in fixable})
    plan = policy_plan(given)
    assert plan.action == "repair" and plan.sample_ids == fixable[:20]
    assert plan.rationale.startswith("repair: +0.0 qualifying, mean +0.23 for 80 calls")  # 20 x 0.5 x (3.8-1.5)/100
    assert "expand: +10.0 qualifying, mean +0.23 for 100 calls" in plan.rationale and "-> repair" in plan.rationale


def test_a_poor_repair_history_turns_a_quality_gap_to_expansion() -> None:
    fixable = [f"r{i}" for i in range(30)]
    given = PlanningInput(pool(qualifying=100, size=100, mean=3.4, mean_target=3.8, low=1.5), [], fixable,
                          target_size=100, mean_target=3.8, repairable_scores={i: 1.5 for i in fixable},
                          observed=Observed(repair_tried=60, repair_accepted=0, expand_tried=40, expand_kept=30))
    plan = policy_plan(given)
    assert plan.action == "expand" and "history rate" in plan.rationale


def test_rates_shrink_history_toward_the_prior() -> None:
    assert rate(0, 0, 0.5) == (0.5, "prior")
    assert rate(20, 1, 0.5) == ((1 + 2.0) / 24, "history")
    found = observed_from([{"repair": {"attempted": 20, "accepted": 1}}, {"expand": {"kept": 3, "rejected": 7}}, {}])
    assert found == Observed(repair_tried=20, repair_accepted=1, expand_tried=10, expand_kept=3)
