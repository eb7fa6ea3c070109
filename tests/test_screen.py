"""Screening stages: survivors flow on, first drop reason wins, scores merge; scored output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from assay.core.formats import record_to_sample
from assay.core.readers import FileShape, read_samples
from assay.core.records import Sample
from assay.pipeline.screen.scored_output import summary, write_scored
from assay.core.assessment import Assessment, drop
from assay.tools.screen import Stage, run_stages

RECORDS = [
    {"instruction": "Say hi.", "input": "", "output": "Hi!", "extra": 1},
    {"instruction": "Empty one.", "input": "", "output": ""},
    {"instruction": "Say hi.", "input": "", "output": "Hi!!"},
    {"instruction": "Count to three.", "input": "", "output": "1, 2, 3."},
]


def pool() -> list[Sample]:
    return [record_to_sample(r, "alpaca", f"t:{i + 1}") for i, r in enumerate(RECORDS)]


def length_stage(batch: Sequence[Sample]) -> list[Assessment]:
    return [drop("empty_output", "nothing there", words=0.0) if not s.response
            else Assessment(scores={"words": float(len(s.response.split()))}) for s in batch]


class SeenRecorder:
    """A second stage that drops later copies of an instruction and records what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        self.seen = [s.id for s in batch]
        first: dict[str, str] = {}
        out = []
        for s in batch:
            if s.instruction in first:
                out.append(drop(f"duplicate_of:{first[s.instruction]}", "same instruction", dup=1.0))
            else:
                first[s.instruction] = s.id
                out.append(Assessment(scores={"dup": 0.0}))
        return out


def test_survivors_flow_on_and_first_reason_wins() -> None:
    samples = pool()
    recorder = SeenRecorder()
    result = run_stages(samples, [Stage("length", length_stage), Stage("dedup", recorder)])
    assert recorder.seen == [samples[0].id, samples[2].id, samples[3].id]  # the empty one never reaches dedup
    outcomes = [result.outcomes[s.id] for s in samples]
    assert [o.keep for o in outcomes] == [True, False, False, True]
    assert outcomes[1].reason == "empty_output" and result.dropped_by[samples[1].id] == "length"
    assert outcomes[2].reason == f"duplicate_of:{samples[0].id}" and result.dropped_by[samples[2].id] == "dedup"
    assert outcomes[2].scores == {"words": 1.0, "dup": 1.0}  # scores of every stage that saw it
    assert [(r.name, r.seen, r.dropped) for r in result.stages] == [("length", 4, 1), ("dedup", 3, 1)]
    assert [s.id for s in result.kept()] == [samples[0].id, samples[3].id]


def test_a_stage_returning_the_wrong_count_is_an_error() -> None:
    import pytest

    with pytest.raises(RuntimeError, match="returned 0 verdicts for 4 samples"):
        run_stages(pool(), [Stage("broken", lambda batch: [])])


def test_scored_file_keeps_records_and_adds_assay(tmp_path: Path) -> None:
    samples = pool()
    result = run_stages(samples, [Stage("length", length_stage)])
    out = tmp_path / "scored.jsonl"
    assert write_scored(out, result, FileShape("json", "alpaca"), {samples[0].id: 3}) == 4
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {k: v for k, v in rows[0].items() if k != "_assay"} == RECORDS[0]
    assert rows[0]["_assay"] == {"id": samples[0].id, "status": "active", "reason": None, "detail": None,
                                 "dropped_by": None, "cluster": 3, "scores": {"words": 1.0},
                                 "injection": []}
    assert rows[1]["_assay"]["status"] == "dropped" and rows[1]["_assay"]["reason"] == "empty_output"
    # A scored file reads back as the same samples (the _assay object is an extra field).
    _, items = read_samples(out)
    assert [i.sample.id for i in items] == [s.id for s in samples]


def test_summary_counts_reason_families_and_describes_scores() -> None:
    samples = pool()
    result = run_stages(samples, [Stage("length", length_stage), Stage("dedup", SeenRecorder())])
    report = summary(result)
    assert report["total"] == 4 and report["by_reason"] == {"kept": 2, "empty_output": 1, "duplicate_of": 1}
    assert report["scores"]["words"]["count"] == 4 and report["scores"]["words"]["max"] == 3.0
