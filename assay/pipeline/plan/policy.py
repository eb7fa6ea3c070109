"""The deterministic planner: reads the gap and picks repair, expand or finish, with a rationale.

Each round it estimates what a repair round and an expansion round would close of the unmet
targets' gaps, and what each costs in LLM calls (plan/estimate.py); the larger gain per call
wins, with the numbers in the rationale. A tie goes to repair (it keeps the user's data).
It finishes when every target is met or no action left can move one. The LLM planner (agents/planner.py) chooses among
the same actions; whatever it says is checked here (`check_choice`) against `allowed_actions`
and the known clusters and topics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assay.core.plan import Action, Measurement, Plan, RoundRecord
from assay.pipeline.plan.estimate import Estimate, Gaps, Observed, estimate_expand, estimate_repair

if TYPE_CHECKING:
    from assay.agents.planner import PlannerChoice

QUALITY_TARGETS = ("mean_quality", "quality_floor", "size")
COVERAGE_TARGETS = ("cluster_coverage", "topic_coverage")
DEFAULT_BAR = 3.0  # the score a new sample is expected to reach when the recipe names no bar


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
    quality_floor: float | None = None
    mean_target: float | None = None
    repairable_scores: Mapping[str, float] = field(default_factory=dict)  # current score of each repairable
    observed: Observed = Observed()  # what earlier rounds' repairs and expansions achieved


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
    """The default policy: the action whose round closes more of the gap per LLM call (estimate.py)."""
    m = given.measurement
    missing = unmet(m)
    if not missing:
        return Plan(action="finish", rationale="every target is met")
    quality_gap = [name for name in missing if name in QUALITY_TARGETS]
    gaps = _gaps(given, missing)
    expansion = _expand_plan(given, missing)
    options: list[tuple[Estimate, Plan]] = []
    if quality_gap and given.repairable:
        chosen = list(given.repairable[: given.repair_batch])
        low = m.metrics.get("export_min_quality") or 0.0
        found = estimate_repair(gaps, [given.repairable_scores.get(i, low) for i in chosen], given.quality_floor,
                                given.observed)
        options.append((found, Plan(action="repair", sample_ids=chosen, rationale=(
            f"{', '.join(quality_gap)} not met; repairing the {len(chosen)} lowest-scored samples whose issues a "
            f"rewrite can fix ({len(given.repairable)} such samples)"))))
    if expansion is not None:
        covers = gaps.coverage is not None and bool(expansion.clusters or expansion.topics)
        options.append((estimate_expand(gaps, expansion.n, covers, given.observed), expansion))
    if not options:
        return Plan(action="finish", rationale=f"{', '.join(missing)} not met, and no action left can move them")
    # The larger gain per call wins; on a tie (or when no estimate closes anything) repair comes
    # first: it keeps the user's own data.
    best, plan = max(options, key=lambda option: (option[0].per_call, option[0].action == "repair"))
    numbers = "; ".join(e.describe() for e, _ in options)
    return plan.model_copy(update={"rationale": f"{numbers} -> {best.action}: {plan.rationale}"})


def _gaps(given: PlanningInput, missing: list[str]) -> Gaps:
    """The unmet targets in the estimates' units, from the measurement."""
    m = given.measurement
    status = {t.name: t for t in m.targets}
    qualifying = float(m.metrics.get("qualifying") or 0.0)
    size = None
    if "size" in missing:
        wanted = given.target_size if given.target_size is not None else status["size"].target
        achieved = qualifying if given.target_size is not None else (status["size"].achieved or 0.0)
        size = max(0.0, wanted - achieved) or None
    mean = None
    if "mean_quality" in missing:
        target = status["mean_quality"]
        mean = target.target - (target.achieved if target.achieved is not None else 0.0)
    coverage = None
    if "topic_coverage" in missing and m.uncovered_topics:
        coverage = float(given.cluster_min * len(m.uncovered_topics))
    elif "cluster_coverage" in missing and m.under_covered:
        coverage = float(sum(max(0, given.cluster_min - m.cluster_counts.get(c, 0)) for c in m.under_covered[:5]))
    export_size = float(m.metrics.get("export_size", qualifying) or 0.0)
    export_mean = m.metrics.get("export_mean_quality")
    bars = [v for v in (given.mean_target, given.quality_floor, export_mean) if v is not None]
    return Gaps(size=size, mean=mean, floor="quality_floor" in missing, coverage=coverage or None,
                bar=max(bars) if bars else DEFAULT_BAR, export_size=export_size,
                export_full=given.target_size is not None and export_size >= given.target_size,
                export_mean=export_mean, export_min=m.metrics.get("export_min_quality"))


def _expand_plan(given: PlanningInput, missing: list[str]) -> Plan | None:
    """The expansion a round would run: uncovered topics, then thin clusters, then size or mean; None if none."""
    m = given.measurement
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
                  else "mean quality is short; new strong samples raise the best-N mean")
        return Plan(action="expand", clusters=clusters, n=n, rationale=f"{reason}; expanding by {n}")
    return None


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
