"""The summary of a streamed run, built batch by batch from the verdict parts: the same counts,
distributions and stage totals `scored_output.summary` gives for the whole pool in memory."""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from assay.pipeline.screen.scored_output import _describe, reason_family


class SummaryBuilder:
    """Accumulates verdict rows (distinct samples, in input order) and stage reports."""

    def __init__(self) -> None:
        self.total = 0
        self.injection = 0  # distinct samples with prompt-injection hits
        self.reasons: Counter[str] = Counter()
        self.values: dict[str, array[float]] = {}  # 8 bytes a score, not a Python float's 32

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Count one batch's verdict rows."""
        for row in rows:
            self.total += 1
            self.reasons["kept" if row["keep"] else reason_family(row["reason"])] += 1
            self.injection += row["injection"] != "[]"
            for name, value in json.loads(row["scores"]).items():
                self.values.setdefault(name, array("d")).append(value)

    def build(self, stages: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """The summary: total, by_reason (most common first, ties in order of first sight), scores, stages."""
        scores = {name: _describe(values.tolist()) for name, values in sorted(self.values.items())}
        return {"total": self.total, "by_reason": dict(self.reasons.most_common()), "scores": scores,
                "stages": list(stages), "injection": self.injection}


def add_stage_reports(totals: dict[str, dict[str, Any]], reports: Iterable[dict[str, Any]]) -> None:
    """Add one batch's stage reports into `totals` (by stage name, in order of first sight)."""
    for report in reports:
        total = totals.setdefault(report["name"], {"name": report["name"], "seen": 0, "dropped": 0, "seconds": 0.0})
        total["seen"] += report["seen"]
        total["dropped"] += report["dropped"]
        total["seconds"] += report["seconds"]
