"""Pass 2: per batch, merge the dedup verdicts into the screen part, run the post-dedup stages
(IFD, plugins) on the survivors, and write the batch's final verdicts as a part.

Plugins and IFD see the survivors of one batch at a time here, not the whole pool at once.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assay.core.assessment import Assessment
from assay.core.config import PluginSettings
from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions

PART = "verdict"
DEDUP_PART = "dedup"
VERDICT_COLUMNS = ("position", "id", "keep", "reason", "detail", "dropped_by", "scores", "injection")
_stages_cache: dict[bytes, list[Any]] = {}  # per process: IFD's model and the plugins are built once per worker


@dataclass(frozen=True)
class FinishJob:
    """One batch to finish: its screen part and dedup verdicts are in the work folder."""

    index: int
    options: ScoreOptions  # plugins=(): a worker builds them from `plugins`
    plugins: PluginSettings
    folder: Path
    fingerprint: str


def post_dedup_options(options: ScoreOptions) -> ScoreOptions:
    """The options with only the stages that follow dedup: IFD (when asked)."""
    return replace(options, heuristics=False, decontam=(), dedup=(), plugins=(), embed=False, clusters=None)


def post_dedup_stages(options: ScoreOptions, plugins: PluginSettings) -> list[Any]:
    """The stages after dedup (IFD, then the recipe's plugins), built once per process."""
    key = pickle.dumps((options, plugins))
    if key not in _stages_cache:
        from assay.pipeline.plugins import screen_stages
        from assay.pipeline.screen.scoring import build_stages

        built = tuple(screen_stages(plugins)) if plugins.filters or plugins.scorers else ()
        _stages_cache[key] = build_stages(replace(post_dedup_options(options), plugins=built), None)
    return _stages_cache[key]


def finish_batch(job: FinishJob) -> dict[str, Any]:
    """Write the batch's final verdicts (distinct samples only) and return the post-dedup stages' reports."""
    import pyarrow as pa

    from assay.core.records import Sample
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART
    from assay.tools.screen import run_stages

    parts = Parts(job.folder, job.fingerprint)
    stages = post_dedup_stages(job.options, job.plugins)
    columns = ["position", "id", "repeat", "keep", "reason", "detail", "dropped_by", "scores", "injection"]
    screen = parts.read_table(SCREEN_PART, job.index, columns=columns + (["sample"] if stages else []))
    screen = screen.filter(pa.compute.invert(pa.compute.field("repeat")))
    rows = screen.select(columns).drop_columns(["repeat"]).to_pylist()
    dedup = {}
    if parts.done(DEDUP_PART, job.index):
        dedup = {r["position"]: r for r in parts.read_table(DEDUP_PART, job.index).to_pylist()}
    for row in rows:
        row["scores"] = json.loads(row["scores"])
        verdict = dedup.get(row["position"])
        if verdict is not None:  # a survivor the global dedup placed in a cluster
            row["scores"] = {**row["scores"], **json.loads(verdict["scores"])}
            if not verdict["keep"]:
                row.update(keep=False, reason=verdict["reason"], detail=verdict["detail"], dropped_by="dedup")
    reports: list[dict[str, Any]] = []
    if stages:
        survivors = [i for i, row in enumerate(rows) if row["keep"]]
        samples = [Sample.model_validate_json(s) for s in
                   screen.take(pa.array(survivors, type=pa.int64())).column("sample").to_pylist()] if survivors else []
        result = run_stages(samples, stages)  # the survivors arrive with no scores: merged back below
        reports = [vars(stage) for stage in result.stages]
        for i, sample in zip(survivors, samples, strict=True):
            outcome: Assessment = result.outcomes[sample.id]
            row = rows[i]
            row["scores"] = {**row["scores"], **outcome.scores}
            if not outcome.keep:
                row.update(keep=False, reason=outcome.reason, detail=outcome.detail,
                           dropped_by=result.dropped_by[sample.id])
    for row in rows:
        row["scores"] = json.dumps(row["scores"])
    types = {"position": pa.int64(), "id": pa.string(), "keep": pa.bool_(), "reason": pa.string(), "detail": pa.string(),
             "dropped_by": pa.string(), "scores": pa.string(), "injection": pa.string()}
    schema = pa.schema([pa.field(n, types[n]) for n in VERDICT_COLUMNS], metadata={"stages": json.dumps(reports)})
    table = pa.table({n: pa.array([r[n] for r in rows], type=types[n]) for n in VERDICT_COLUMNS}, schema=schema)
    parts.write_table(table, PART, job.index)
    return {"index": job.index, "stages": reports}
