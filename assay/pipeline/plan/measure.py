"""Measure: the metrics the recipe targets, on what an export would hold now, and the gap.

The projected export is what `select` would produce this moment: active samples with a
verdict at or above the quality floor, the best `size` of them. Size, mean quality and the
floor are judged on it; coverage on the whole active pool (expansion grows the pool, and
selection keeps cluster coverage in mind).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from assay.core.config import Targets
from assay.core.recipe_screen import ScreenSettings
from assay.core.plan import Measurement, TargetStatus
from assay.core.records import Sample, Status
from assay.session.judgements import latest_judgements


def measure(session: Any, targets: Targets, *, cluster_min: int = 3, contamination_checked: bool = False,
            topic_threshold: float | None = None) -> Measurement:
    """Compute the metrics and the gap to each target from the session DB (and store, for topics).

    This is the rounds' measurement: the projected export, what the planner steers by (size
    counts the samples that qualify)."""
    return _measure(session, targets, cluster_min=cluster_min, contamination_checked=contamination_checked,
                    topic_threshold=topic_threshold, exported=False)


def measure_export(session: Any, targets: Targets, *, cluster_min: int = 3, contamination_checked: bool = False,
                   topic_threshold: float | None = None) -> Measurement:
    """The targets on what the export holds, after the final selection: the selected samples alone.

    The final table then says 40 exported, not the 124 that qualified (those go into the size
    target's detail), and mean quality is that of the samples written, whichever selector chose them."""
    return _measure(session, targets, cluster_min=cluster_min, contamination_checked=contamination_checked,
                    topic_threshold=topic_threshold, exported=True)


def _measure(session: Any, targets: Targets, *, cluster_min: int, contamination_checked: bool,
             topic_threshold: float | None, exported: bool) -> Measurement:
    selected = list(session.samples.iter(status=Status.SELECTED))
    active = selected if exported else list(session.samples.iter(status=Status.ACTIVE)) + selected
    verdicts = latest_judgements(session.conn, [s.id for s in active])
    scored = {s.id: verdicts[s.id].overall for s in active if s.id in verdicts and verdicts[s.id].ok}
    floor = targets.quality_floor
    qualifying = sorted((q for q in scored.values() if floor is None or q >= floor), reverse=True)
    export = qualifying[: targets.size] if targets.size else qualifying
    good_ids = {i for i, q in scored.items() if floor is None or q >= floor}
    cluster_counts, all_clusters = _cluster_counts(active, good_ids, session)
    under = sorted((c for c in all_clusters if cluster_counts.get(c, 0) < cluster_min),
                   key=lambda c: (cluster_counts.get(c, 0), c))
    cluster_coverage = 1 - len(under) / len(all_clusters) if all_clusters else None
    topic_cov, uncovered = _topic_coverage(session, active, targets.topics, topic_threshold)
    dropped = _drop_counts(session)
    metrics: dict[str, float | None] = {
        "active": float(len(active)),
        "judged": float(len(scored)),
        "unjudged": float(len(active) - len(verdicts)),
        "judge_failed": float(sum(1 for v in verdicts.values() if not v.ok)),
        "qualifying": float(len(qualifying)),
        "export_size": float(len(export)),
        "export_mean_quality": sum(export) / len(export) if export else None,
        "export_min_quality": min(export) if export else None,
        "pool_mean_quality": sum(scored.values()) / len(scored) if scored else None,
        "below_floor": float(sum(1 for q in scored.values() if floor is not None and q < floor)),
        "clusters": float(len(all_clusters)),
        "cluster_coverage": cluster_coverage,
        "topic_coverage": topic_cov,
        "dropped_duplicates": float(dropped.get("duplicate_of", 0)),
        "dropped_contaminated": float(dropped.get("contaminated", 0)),
        "duplicate_rate": _duplicate_rate(active, session.config.screen) if targets.max_duplicate_rate is not None else None,
    }
    if exported:
        # Every selected sample qualified; so did each one the selector left out ("not_selected:…").
        metrics["qualifying"] = float(len(qualifying) + dropped.get("not_selected", 0))
    statuses = _target_statuses(targets, metrics, contamination_checked, exported=exported)
    return Measurement(metrics, statuses, cluster_counts, under, uncovered)


def _cluster_counts(active: Sequence[Sample], good_ids: set[str], session: Any) -> tuple[dict[int, int], list[int]]:
    """Per cluster, the good active samples; and every cluster the screening found."""
    counts: dict[int, int] = defaultdict(int)
    clusters: set[int] = set()
    for row in session.conn.execute("SELECT tags FROM samples WHERE tags LIKE '%\"cluster\"%'"):
        labels = json.loads(row["tags"]).get("cluster") or []
        clusters.update(int(c) for c in labels)
    for sample in active:
        for label in sample.tags.get("cluster", []):
            if sample.id in good_ids:
                counts[int(label)] += 1
    return dict(counts), sorted(clusters)


def _topic_coverage(session: Any, active: Sequence[Sample], topics: list[str],
                    threshold: float | None) -> tuple[float | None, list[str]]:
    if not topics:
        return None, []
    if not active:
        return 0.0, list(topics)
    from assay.tools.coverage import topic_coverage

    store = session.store
    options = {"threshold": threshold} if threshold is not None else {}
    found = topic_coverage(list(topics), store.vectors([s.id for s in active]), store.embedder.encode, **options)
    return found.coverage, found.uncovered


def _duplicate_rate(active: Sequence[Sample], screen: ScreenSettings) -> float:
    """Share of the active pool that exact and MinHash dedup would still drop (0 after screening)."""
    if len(active) < 2:
        return 0.0
    from assay.pipeline.screen.scoring import dedup_options
    from assay.tools.dedup import dedup

    result = dedup(active, ("exact", "minhash"), **dedup_options(screen))  # the recipe's thresholds, as screened
    return sum(not a.keep for a in result.assessments) / len(active)


def _drop_counts(session: Any) -> Counter[str]:
    """Dropped samples by the kind of their reason (the part before the first colon)."""
    counts: Counter[str] = Counter()
    for status, reason, n in session.samples.counts():
        if status == Status.DROPPED.value and reason:
            counts[reason.split(":", 1)[0]] += n
    return counts


def _target_statuses(targets: Targets, metrics: dict[str, float | None], contamination_checked: bool, *,
                     exported: bool = False) -> list[TargetStatus]:
    """One status per target the recipe set; with `exported`, size is what the export holds."""
    found = []
    if targets.size is not None and exported:
        achieved = metrics["export_size"] or 0.0
        found.append(TargetStatus(name="size", target=targets.size, achieved=achieved, met=achieved >= targets.size,
                                  detail=f"{achieved:.0f} exported; {metrics['qualifying'] or 0:.0f} qualified"))
    elif targets.size is not None:
        achieved = metrics["qualifying"] or 0.0
        found.append(TargetStatus(name="size", target=targets.size, achieved=achieved, met=achieved >= targets.size,
                                  detail=f"{achieved:.0f} samples qualify for {targets.size}"))
    if targets.min_mean_quality is not None:
        mean = metrics["export_mean_quality"]
        found.append(TargetStatus(name="mean_quality", target=targets.min_mean_quality, achieved=mean,
                                  met=mean is not None and mean >= targets.min_mean_quality))
    if targets.quality_floor is not None:
        low = metrics["export_min_quality"]
        found.append(TargetStatus(name="quality_floor", target=targets.quality_floor, achieved=low,
                                  met=low is not None and low >= targets.quality_floor,
                                  detail=f"{metrics['below_floor']:.0f} active samples below the floor stay out"))
    if targets.topics:
        wanted = targets.coverage if targets.coverage is not None else 1.0
        achieved = metrics["topic_coverage"]
        found.append(TargetStatus(name="topic_coverage", target=wanted, achieved=achieved,
                                  met=achieved is not None and achieved >= wanted))
    elif targets.coverage is not None:
        achieved = metrics["cluster_coverage"]
        found.append(TargetStatus(name="cluster_coverage", target=targets.coverage, achieved=achieved,
                                  met=achieved is not None and achieved >= targets.coverage))
    if targets.max_duplicate_rate is not None:
        rate = metrics["duplicate_rate"]
        found.append(TargetStatus(name="duplicate_rate", target=targets.max_duplicate_rate, achieved=rate,
                                  met=rate is not None and rate <= targets.max_duplicate_rate))
    if targets.zero_contamination and contamination_checked:
        found.append(TargetStatus(name="zero_contamination", target=0, achieved=0, met=True,
                                  detail=f"{metrics['dropped_contaminated']:.0f} contaminated samples dropped"))
    return found


def measure_run(deps: Any, *, exported: bool = False) -> Measurement:
    """The run's measurement: the session's targets, with the run's per-cluster minimum and decontamination
    (`exported`: on the final selection, for the targets the run reports at its end)."""
    config = deps.session.config
    how = measure_export if exported else measure
    return how(deps.session, config.targets, cluster_min=deps.options.cluster_min,
               contamination_checked=bool(deps.options.decontam))
