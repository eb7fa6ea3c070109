"""The deterministic planner: reads the gap and picks repair, expand or finish, with a rationale.

Order of preference: repair before expand (fixing a sample is cheaper than writing one and
keeps the user's data), expand where coverage or size falls short, finish when every target
is met or nothing left can move a target. The LLM planner (agents/planner.py) chooses among
the same actions; whatever it says is checked here (`check_choice`) against `allowed_actions`
and the known clusters and topics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.core.plan import Action, Measurement, Plan, RoundRecord

if TYPE_CHECKING:
    from assay.agents.planner import PlannerChoice

QUALITY_TARGETS = ("mean_quality", "quality_floor", "size")
COVERAGE_TARGETS = ("cluster_coverage", "topic_coverage")


@dataclass(frozen=True)
class PlanningInput:
    """What the planner sees: the measurement, the rounds so far, and what each action could work on."""

    measurement: Measurement
    history: Sequence[RoundRecord]
    repairable: Sequence[str]  # fixable low scorers not yet attempted, worst first
    repair_batch: int = 20
    expand_batch: int = 20
    cluster_min: int = 3
    target_size: int | None = None


def unmet(measurement: Measurement) -> list[str]:
    """Names of the targets not met yet."""
    return [t.name for t in measurement.targets if not t.met]


def allowed_actions(given: PlanningInput) -> list[Action]:
    """The actions that could do something now; finish is always allowed."""
    actions: list[Action] = []
    if given.repairable:
        actions.append("repair")
    missing = unmet(given.measurement)
    if any(name in missing for name in (*COVERAGE_TARGETS, "size", "mean_quality")):
        actions.append("expand")
    actions.append("finish")
    return actions


def policy_plan(given: PlanningInput) -> Plan:
    """The default policy: repair, then expand, then finish."""
    m = given.measurement
    missing = unmet(m)
    if not missing:
        return Plan(action="finish", rationale="every target is met")
    quality_gap = [name for name in missing if name in QUALITY_TARGETS]
    if quality_gap and given.repairable:
        chosen = list(given.repairable[: given.repair_batch])
        return Plan(action="repair", sample_ids=chosen,
                    rationale=f"{', '.join(quality_gap)} not met; repairing the {len(chosen)} lowest-scored samples "
                              f"whose issues a rewrite can fix ({len(given.repairable)} such samples)")
    if m.uncovered_topics and "topic_coverage" in missing:
        n = min(given.expand_batch, given.cluster_min * len(m.uncovered_topics))
        return Plan(action="expand", topics=list(m.uncovered_topics), n=n,
                    rationale=f"topic coverage {_fmt(m.metrics['topic_coverage'])} is short; expanding "
                              f"{len(m.uncovered_topics)} uncovered topics: {', '.join(m.uncovered_topics)}")
    if m.under_covered and "cluster_coverage" in missing:
        clusters = list(m.under_covered[:5])
        deficit = sum(max(0, given.cluster_min - m.cluster_counts.get(c, 0)) for c in clusters)
        n = max(1, min(given.expand_batch, deficit))
        return Plan(action="expand", clusters=clusters, n=n,
                    rationale=f"cluster coverage {_fmt(m.metrics['cluster_coverage'])} is short; expanding the "
                              f"emptiest clusters {clusters} by {n} samples")
    if "size" in missing or "mean_quality" in missing:
        shortfall = (given.target_size or 0) - int(m.metrics["qualifying"] or 0)
        n = max(1, min(given.expand_batch, shortfall if shortfall > 0 else given.expand_batch))
        clusters = list(m.under_covered[:5]) or sorted(m.cluster_counts, key=lambda c: m.cluster_counts[c])[:5]
        reason = (f"{shortfall} more qualifying samples needed" if shortfall > 0
                  else "mean quality is short and nothing is left to repair; new strong samples raise the best-N mean")
        return Plan(action="expand", clusters=clusters, n=n, rationale=f"{reason}; expanding by {n}")
    return Plan(action="finish", rationale=f"{', '.join(missing)} not met, and no action left can move them")


def check_choice(choice: PlannerChoice, given: PlanningInput) -> str | None:
    """Why the LLM planner's choice cannot be carried out, or None when it can."""
    allowed = allowed_actions(given)
    if choice.action not in allowed:
        return f"action {choice.action!r} is not allowed now (allowed: {', '.join(allowed)})"
    if choice.action == "expand":
        m = given.measurement
        known = set(m.cluster_counts) | set(m.under_covered)
        unknown = [c for c in choice.clusters if c not in known]
        if unknown:
            return f"unknown clusters {unknown}"
        strange = [t for t in choice.topics if t not in m.uncovered_topics]
        if strange:
            return f"topics {strange} are not among the uncovered topics"
        if not choice.clusters and not choice.topics:
            return "expand names no cluster or topic"
    return None


def made_progress(history: Sequence[RoundRecord], current: dict[str, float | None], window: int = 2) -> bool:
    """False when the last `window` rounds moved no metric a target reads.

    Each round's record holds the metrics it started from, so the pool now is compared with
    the pool `window` rounds ago.
    """
    if len(history) < window:
        return True
    keys = ("qualifying", "export_mean_quality", "export_min_quality", "cluster_coverage", "topic_coverage")
    baseline = history[-window].metrics
    return any(_better(current.get(k), baseline.get(k)) for k in keys)


def _better(now: float | None, then: float | None) -> bool:
    if now is None:
        return False
    return then is None or now > then + 1e-9


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
