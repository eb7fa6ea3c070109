"""What a scored file says, gathered for the analyzer page (`assay score --report`).

It reads the file `assay score` wrote (every record with its `_assay` verdict), so the page
shows exactly what the file holds: counts by status and by reason code, each numeric
statistic in `_assay.scores` split active vs dropped, the recipe threshold that statistic is
compared with (`analysis_rules.py`), cluster sizes, and a few example drops per reason. No
markup here: the report layer draws it.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core.formats import FieldProblem, detect_format, record_to_sample
from assay.core.raw_input import Invalid
from assay.core.readers import DEFAULT_MAX_RECORD_BYTES, raw_records
from assay.core.recipe_screen import ScreenSettings
from assay.core.safe_text import json_text
from assay.pipeline.screen.analysis_rules import Threshold, explain, reason_code, thresholds
from assay.pipeline.screen.scored_output import ASSAY_KEY


@dataclass(frozen=True)
class Example:
    """One dropped record as the page shows it: its full reason and detail, its text cut short."""

    id: str
    reason: str
    detail: str | None
    instruction: str
    response: str


@dataclass
class ReasonGroup:
    """The drops sharing one reason code (`duplicate_of:<id>` counts as `duplicate_of`)."""

    code: str
    explanation: str | None
    count: int = 0
    stages: Counter[str] = field(default_factory=Counter)
    examples: list[Example] = field(default_factory=list)


@dataclass
class Statistic:
    """One numeric score's values, active and dropped apart, and the recipe threshold it is held to."""

    name: str
    threshold: Threshold | None
    active: array[float] = field(default_factory=lambda: array("d"))  # 8 bytes a value: files of millions fit
    dropped: array[float] = field(default_factory=lambda: array("d"))


@dataclass
class Analysis:
    """Everything the analyzer page shows about one scored file."""

    path: str
    records: int = 0
    active: int = 0
    dropped: int = 0
    injection: int = 0
    reasons: list[ReasonGroup] = field(default_factory=list)  # most frequent first
    statistics: list[Statistic] = field(default_factory=list)  # by name
    clusters: list[tuple[int, int]] = field(default_factory=list)  # (cluster, active samples), largest first


def analyze_scored(path: str | Path, screen: ScreenSettings | None = None, *, examples: int = 3,
                   text_chars: int = 400, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Analysis:
    """Read a file written by `assay score` and gather its analysis.

    `screen` is the recipe's `[screen]` section the file was scored with (default: the
    defaults): it gives the thresholds marked on the histograms. `examples` drops are kept per
    reason, their instruction and response cut to `text_chars` characters. `max_record_bytes`:
    the record size limit the file was scored under (the recipe's `store.max_record_mb`).
    """
    rules = thresholds(screen or ScreenSettings())
    analysis = Analysis(path=str(path))
    groups: dict[str, ReasonGroup] = {}
    stats: dict[str, Statistic] = {}
    clusters: Counter[int] = Counter()
    _, records = raw_records(path, max_record_bytes=max_record_bytes)
    for item in records:
        if isinstance(item, Invalid):  # a file `assay score` wrote is well formed: anything else is an error
            raise item.error
        _, record, _ = item
        verdict = record.get(ASSAY_KEY) if isinstance(record, dict) else None
        if not isinstance(verdict, dict):
            raise ValueError(f"{path}: a record has no {ASSAY_KEY} object; is this a file `assay score` wrote?")
        analysis.records += 1
        active = verdict.get("status") == "active"
        analysis.active += active
        analysis.dropped += not active
        analysis.injection += bool(verdict.get("injection"))
        if verdict.get("cluster") is not None and active:
            clusters[int(verdict["cluster"])] += 1
        for name, value in (verdict.get("scores") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                stat = stats.setdefault(name, Statistic(name, rules.get(name)))
                (stat.active if active else stat.dropped).append(float(value))
        if not active:
            _add_drop(groups, verdict, record, examples, text_chars)
    analysis.reasons = sorted(groups.values(), key=lambda g: (-g.count, g.code))
    analysis.statistics = [stats[name] for name in sorted(stats)]
    analysis.clusters = sorted(clusters.items(), key=lambda kv: (-kv[1], kv[0]))
    return analysis


def _add_drop(groups: dict[str, ReasonGroup], verdict: dict[str, Any], record: dict[str, Any], examples: int,
              text_chars: int) -> None:
    reason = verdict.get("reason") or "dropped"
    code = reason_code(reason)
    group = groups.setdefault(code, ReasonGroup(code, explain(code)))
    group.count += 1
    group.stages[verdict.get("dropped_by") or "—"] += 1
    if len(group.examples) < examples:
        instruction, response = _texts(record)
        group.examples.append(Example(str(verdict.get("id", "")), reason, verdict.get("detail"),
                                      _cut(instruction, text_chars), _cut(response, text_chars)))


def _texts(record: dict[str, Any]) -> tuple[str, str]:
    """The record's instruction and response; a shape the readers do not know shows as its JSON."""
    plain = {k: v for k, v in record.items() if k != ASSAY_KEY}
    try:
        sample = record_to_sample(plain, detect_format(plain), source="")
    except FieldProblem:  # a mapped or plugin format: show the record itself rather than guess its fields
        return json_text(plain), ""
    return sample.instruction, sample.response


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
