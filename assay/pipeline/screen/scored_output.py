"""Scored files: every record in the user's format plus an `_assay` object, and a summary."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.core.formats import sample_to_record
from assay.core.readers import FileShape, container_of_name
from assay.core.assessment import Assessment
from assay.core.records import FormatName, Sample, Status
from assay.tools.screen import ScreenResult
from assay.core.writers import write_records

ASSAY_KEY = "_assay"


def injection_flags(samples: Sequence[Sample]) -> dict[str, list[str]]:
    """Each sample's prompt-injection hits (text addressed to a grader or a model), over every turn."""
    from assay.agents.injection import detect_injection

    return {s.id: detect_injection("\n".join(m.content for m in s.messages)) for s in samples}


def scored_records(result: ScreenResult, shape: FileShape, clusters: Mapping[str, int],
                   records: Sequence[Sample] | None = None,
                   injection: Mapping[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """Every input record, in input order and format, each with its `_assay` verdict.

    `records` lists every valid input record, repeats included (default: the screened
    samples); a record repeating an earlier one exactly is marked as its duplicate.
    `injection`: each sample's injection hits (default: detected here).
    """
    injection = injection if injection is not None else injection_flags(result.samples)
    rows = []
    seen: set[str] = set()
    for sample in records if records is not None else result.samples:
        outcome = result.outcomes[sample.id]
        rows.append(scored_record(sample, shape.format, outcome, result.dropped_by.get(sample.id),
                                  clusters.get(sample.id), injection.get(sample.id, []), repeat=sample.id in seen))
        seen.add(sample.id)
    return rows


def scored_record(sample: Sample, fmt: FormatName, outcome: Assessment, dropped_by: str | None, cluster: int | None,
                  injection: list[str], *, repeat: bool) -> dict[str, Any]:
    """One record in format `fmt` with its `_assay` verdict; a `repeat` of an earlier record is marked its duplicate.

    Shared with the streaming engine (pipeline/engine/render_pass.py), so both write the same bytes.
    """
    verdict = {
        "id": sample.id,
        "status": (Status.ACTIVE if outcome.keep else Status.DROPPED).value,
        "reason": outcome.reason,
        "detail": outcome.detail,
        "dropped_by": dropped_by,
        "cluster": cluster,
        "scores": {k: round(v, 6) for k, v in sorted(outcome.scores.items())},
        "injection": injection,
    }
    if repeat:
        verdict.update(status=Status.DROPPED.value, reason=f"duplicate_of:{sample.id}",
                       detail="identical to an earlier record in the input", dropped_by="exact_repeat")
    row = {k: v for k, v in sample_to_record(sample, fmt).items() if k != ASSAY_KEY}
    row[ASSAY_KEY] = verdict
    return row


def write_scored(path: str | Path, result: ScreenResult, shape: FileShape, clusters: Mapping[str, int],
                 records: Sequence[Sample] | None = None, injection: Mapping[str, list[str]] | None = None) -> int:
    """Write the scored records; the container follows the output's extension."""
    rows = scored_records(result, shape, clusters, records, injection)
    return write_records(path, rows, container_of_name(Path(path)))


def summary(result: ScreenResult) -> dict[str, Any]:
    """Kept and dropped counts by reason, and the distribution of each score."""
    reasons: Counter[str] = Counter()
    for outcome in result.outcomes.values():
        reasons["kept" if outcome.keep else reason_family(outcome.reason)] += 1
    values: dict[str, list[float]] = {}
    for outcome in result.outcomes.values():
        for name, value in outcome.scores.items():
            values.setdefault(name, []).append(value)
    distributions = {name: _describe(v) for name, v in sorted(values.items())}
    stages = [vars(stage) for stage in result.stages]
    return {"total": len(result.samples), "by_reason": dict(reasons.most_common()), "scores": distributions, "stages": stages}


def reason_family(reason: str | None) -> str:
    """`duplicate_of:<id>` and `contaminated:<bench>:<item>` are counted by their kind."""
    if not reason:
        return "dropped"
    head, _, rest = reason.partition(":")
    if head == "contaminated" and rest:
        return f"contaminated:{rest.split(':')[0]}"
    return head


def _describe(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    quantiles = statistics.quantiles(ordered, n=10) if len(ordered) > 1 else [ordered[0]] * 9
    return {"count": len(ordered), "mean": statistics.fmean(ordered), "p10": quantiles[0],
            "median": statistics.median(ordered), "p90": quantiles[-1], "min": ordered[0], "max": ordered[-1]}
