"""Pass 1: the per-sample screening stages over one batch, written as a part.

Heuristics and decontamination need no view of the pool, so each batch is screened on its own
(in a worker process when there are several) with the stages `build_stages` makes, dedup, IFD
and plugins left out: dedup is global (dedup_pass.py), IFD and plugins see only its survivors
(write_pass.py). The part also holds what the global dedup needs of each survivor (its exact key
and MinHash band keys, dedup_features.py) and every record's sample as JSON, so no later pass
reads the input again.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assay.pipeline.engine.batches import Row
from assay.pipeline.engine.parts import Parts
from assay.pipeline.screen.scoring import ScoreOptions, build_stages

PART = "screen"
_stages_cache: dict[bytes, list[Any]] = {}  # per process: a decontamination index is built once per worker


@dataclass(frozen=True)
class ScreenJob:
    """One batch to screen: its rows, the options, and where its part goes."""

    index: int
    rows: tuple[Row, ...]
    options: ScoreOptions  # the command's options; this pass runs only its per-sample stages
    folder: Path
    fingerprint: str
    injection: bool = True  # flag prompt-injection hits (`assay score`'s output has them; `assay run` does not use them)
    decontam_vectors: bool = False  # decontaminate by embeddings too, from vectors in the work folder (session_decontam.py)


def per_sample_options(options: ScoreOptions) -> ScoreOptions:
    """The options with only the stages that need no global view: heuristics and decontamination."""
    return replace(options, dedup=(), ifd=False, plugins=(), embed=False, clusters=None)


def per_sample_stages(options: ScoreOptions) -> list[Any]:
    """The per-sample stages of the command's `options`, built once per process."""
    only = per_sample_options(options)
    key = pickle.dumps(only)
    if key not in _stages_cache:
        _stages_cache[key] = build_stages(only, None)
    return _stages_cache[key]


def screen_batch(job: ScreenJob) -> dict[str, Any]:
    """Screen the batch's distinct samples, write its part, and return its stage reports."""
    import pyarrow as pa

    from assay.pipeline.engine.dedup_features import FEATURE_TYPES, dedup_features
    from assay.pipeline.screen.scored_output import injection_flags
    from assay.tools.screen import run_stages

    distinct = [row.sample for row in job.rows if not row.repeat]
    stages = per_sample_stages(job.options)
    if job.decontam_vectors and job.options.decontam:
        from assay.pipeline.engine.session_decontam import embedding_stage, without_decontam

        stages = [*per_sample_stages(without_decontam(job.options)),
                  embedding_stage(job.options, job.folder, job.fingerprint, job.index)]
    result = run_stages(distinct, stages)
    injection = injection_flags(distinct) if job.injection else {s.id: [] for s in distinct}
    survivors = [s for s in distinct if result.outcomes[s.id].keep]
    features = dedup_features(survivors, job.options) if job.options.dedup else {}
    columns: dict[str, list[Any]] = {name: [] for name in ("position", "id", "repeat", "sample", "keep", "reason",
                                                           "detail", "dropped_by", "scores", "injection")}
    columns.update({name: [] for name in FEATURE_TYPES})
    for row in job.rows:
        sample = row.sample
        outcome = None if row.repeat else result.outcomes[sample.id]
        survivor = features.get(sample.id) if outcome is not None and outcome.keep else None
        columns["position"].append(row.position)
        columns["id"].append(sample.id)
        columns["repeat"].append(row.repeat)
        columns["sample"].append(sample.model_dump_json())
        columns["keep"].append(None if outcome is None else outcome.keep)
        columns["reason"].append(None if outcome is None else outcome.reason)
        columns["detail"].append(None if outcome is None else outcome.detail)
        columns["dropped_by"].append(None if outcome is None else result.dropped_by.get(sample.id))
        columns["scores"].append(None if outcome is None else json.dumps(outcome.scores))
        columns["injection"].append(None if outcome is None else json.dumps(injection[sample.id]))
        for name in FEATURE_TYPES:
            columns[name].append(None if survivor is None else survivor[name])
    stages = [vars(stage) for stage in result.stages]
    types = {"position": pa.int64(), "id": pa.string(), "repeat": pa.bool_(), "sample": pa.string(),
             "keep": pa.bool_(), "reason": pa.string(), "detail": pa.string(), "dropped_by": pa.string(),
             "scores": pa.string(), "injection": pa.string(), **FEATURE_TYPES}
    schema = pa.schema([pa.field(name, types[name]) for name in columns], metadata={"stages": json.dumps(stages)})
    table = pa.table({name: pa.array(values, type=types[name]) for name, values in columns.items()}, schema=schema)
    Parts(job.folder, job.fingerprint).write_table(table, PART, job.index)
    return {"index": job.index, "stages": stages, "rows": len(job.rows)}

