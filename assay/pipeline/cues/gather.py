"""What bias-cue detection reads: each response, its outcome and its cluster, from a session or a scored file.

Outcomes: `score` is the judge's overall score (samples without a verdict are left out); `kept`
is 1 for a kept sample (active or selected) and 0 for a dropped one. Samples never judged
(`unjudged:*`, which select leaves active) or replaced by their own repair (`replaced_by:*`) say
nothing about the outcome of their text, so `kept` leaves them out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.formats import FieldProblem, detect_format, record_to_sample
from assay.core.readers import Invalid, raw_records, require_file
from assay.core.records import Sample, Status

Outcome = Literal["score", "kept"]
NOT_AN_OUTCOME = ("unjudged:", "replaced_by:")
SCORE_KEY = "judge_overall"


@dataclass
class CueData:
    """Parallel lists: sample id, response text, outcome, cluster label (None when unknown)."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    outcome: list[float] = field(default_factory=list)
    clusters: list[Any] = field(default_factory=list)
    left_out: int = 0  # samples without an outcome

    def add(self, sample_id: str, text: str, outcome: float, cluster: Any) -> None:
        """Add one response."""
        self.ids.append(sample_id)
        self.texts.append(text)
        self.outcome.append(outcome)
        self.clusters.append(cluster)

    @property
    def has_clusters(self) -> bool:
        """Whether any response has a cluster label."""
        return any(c is not None for c in self.clusters)


def _kept(status: str, reason: str | None) -> float | None:
    # select leaves a sample without a verdict *active* with an `unjudged:` reason: no outcome either way.
    if (reason or "").startswith(NOT_AN_OUTCOME):
        return None
    if status in (Status.ACTIVE.value, Status.SELECTED.value):
        return 1.0
    return 0.0 if status == Status.DROPPED.value else None


def _session_cluster(sample: Sample) -> Any:
    labels = sample.tags.get("cluster") if isinstance(sample.tags, dict) else None
    return labels[0] if isinstance(labels, list) and labels else labels


def from_session(session: Any, outcome: Outcome) -> CueData:
    """Every sample of the session with an outcome (active, selected and dropped alike)."""
    from assay.session.judgements import latest_judgements

    verdicts = latest_judgements(session.conn) if outcome == "score" else {}
    data = CueData()
    for batch in session.samples.batches():
        for sample in batch:
            if outcome == "score":
                verdict = verdicts.get(sample.id)
                value = verdict.overall if verdict is not None and verdict.ok else None
            else:
                value = _kept(sample.status.value, sample.reason)
            if value is None:
                data.left_out += 1
                continue
            data.add(sample.id, sample.response, float(value), _session_cluster(sample))
    return data


def _file_score(verdict: dict[str, Any], where: str) -> float | None:
    judge = verdict.get("judge") or {}
    value = judge.get("overall", (verdict.get("scores") or {}).get(SCORE_KEY))
    if value is None:
        return None
    # bool is an int, and a string or NaN would end as a traceback deep in the test: say which record.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AssayError(f"{where}: the judge overall score {value!r} is not a finite number")
    return float(value)


def from_file(path: Path, outcome: Outcome, fields: FieldMap = NO_MAPPING) -> CueData:
    """Every record of a scored file (`assay score` / `assay judge` output) with an outcome."""
    require_file(path)
    _, items = raw_records(path, fields=fields)
    data = CueData()
    for index, item in enumerate(items):
        if isinstance(item, Invalid):
            raise item.error
        _, record, _ = item
        verdict = record.get("_assay") or {} if isinstance(record, dict) else {}
        value = _file_score(verdict, f"{path}: record {index + 1}") if outcome == "score" else _kept(str(verdict.get("status", "")),
                                                                        verdict.get("reason"))
        if value is None:
            data.left_out += 1
            continue
        try:
            sample = record_to_sample(record, detect_format(record), source=f"{path.name}[{index}]")
        except FieldProblem as problem:
            raise AssayError(f"{path}: record {index + 1}: {problem}") from None
        data.add(str(verdict.get("id") or sample.id), sample.response, value, verdict.get("cluster"))
    if not data.texts:
        what = "a judge score (judge_overall; run `assay judge` first)" if outcome == "score" else \
            "a kept/dropped status (run `assay score` first)"
        raise AssayError(f"{path}: no record has {what}")
    return data
