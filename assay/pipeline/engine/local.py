"""The streaming engine of `assay score`: the input in batches through three per-batch passes and one
global dedup step, every result a part on disk, the output joined from them.

    read ──► pass 1 screen (per batch) ──► global dedup ──► pass 2 verdicts ──► pass 3 render ──► join
             heuristics, decontam,         (dedup_pass)     IFD, plugins         rows in the
             injection, dedup features                                           user's format

Memory holds a few batches and the per-sample columns the global steps need (ids, dedup keys),
never the pool as Python objects. A part is written once, atomically; a rerun after a kill reuses
the parts of the same fingerprint (work folder: parts.py) and computes only the missing ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core.config import PluginSettings
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.readers import container_of_name, require_file
from assay.pipeline.engine import render_pass, screen_pass, write_pass
from assay.pipeline.engine.batches import DEFAULT_BATCH_SIZE, InputStats, estimate_records, read_batches
from assay.pipeline.engine.executor import Executor
from assay.pipeline.engine.output import join_chunks
from assay.pipeline.engine.parts import Parts, default_work_dir, fingerprint
from assay.pipeline.engine.summary import SummaryBuilder, add_stage_reports
from assay.pipeline.progress import StartTask, no_progress
from assay.pipeline.screen.scoring import ScoreOptions

ENGINE_VERSION = 3  # bump when a part's layout changes: an older folder is then not reused
Fault = Callable[[str, int], None]  # (pass, batch index) after each computed part: tests inject a kill here


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs: batch size, work folder, and (tests) a fault hook."""

    batch_size: int = DEFAULT_BATCH_SIZE
    work_dir: Path | None = None  # default: OUT.parts/ beside the output
    keep_parts: bool = False
    fault: Fault | None = None


@dataclass
class EngineRun:
    """What a run did: the summary, the input counts, and how many parts each pass computed (not reused)."""

    summary: dict[str, Any]
    stats: InputStats
    computed: dict[str, int] = field(default_factory=dict)
    work_dir: Path | None = None


def score_streaming(path: Path, out: Path, options: ScoreOptions, *, plugins: PluginSettings, executor: Executor,
                    skip_invalid: bool, max_record_bytes: int, fields: FieldMap = NO_MAPPING,
                    settings: EngineSettings = EngineSettings(), progress: StartTask = no_progress) -> EngineRun:
    """Score `path` into `out` batch by batch; returns the summary `scored_output.summary` would give."""
    container = container_of_name(out)
    options = dataclasses.replace(options, plugins=())  # workers build the plugins from `plugins` (picklable)
    work = settings.work_dir or default_work_dir(out)
    key = fingerprint([path, *options.decontam], _settings_key(options, plugins, settings.batch_size, skip_invalid,
                                                               max_record_bytes, fields, container))
    parts = Parts.open(work, key)
    run = EngineRun(summary={}, stats=InputStats(), computed={"screen": 0, "dedup": 0, "verdict": 0, "out": 0},
                    work_dir=work)
    stages: dict[str, dict[str, Any]] = {}
    batches = _screen(path, options, executor, parts, run, stages, settings, skip_invalid, max_record_bytes, fields,
                      progress)
    if not batches:  # no valid record: the stages still report, each having seen nothing, as in memory
        add_stage_reports(stages, _idle_reports(screen_pass.per_sample_stages(options)))
    if options.dedup:
        from assay.pipeline.engine.dedup_pass import run_dedup

        started = time.perf_counter()
        report = run_dedup(parts, batches, settings.batch_size, options, executor, progress)
        run.computed["dedup"] += report.pop("computed")
        add_stage_reports(stages, [{**report, "seconds": time.perf_counter() - started}])
    if not batches:
        add_stage_reports(stages, _idle_reports(write_pass.post_dedup_stages(options, plugins)))
    jobs = (write_pass.FinishJob(i, options, plugins, parts.folder, key) for i in range(batches)
            if _todo(parts, write_pass.PART, i, run, "verdict"))
    advance = progress("verdicts", batches)
    for result in executor.map(write_pass.finish_batch, jobs):
        advance(1)
        _fault(settings, "verdict", result["index"])
    summary = SummaryBuilder()
    render_jobs = _render_jobs(parts, batches, run, summary, stages, container)
    advance = progress("writing", run.stats.valid)
    for result in executor.map(render_pass.render_batch, render_jobs):
        advance(result["rows"])
        _fault(settings, "out", result["index"])
    suffix = render_pass.SUFFIX[container]
    join_chunks(out, [parts.path(render_pass.PART, i, suffix) for i in range(batches)], container)
    run.summary = summary.build(list(stages.values()))
    if not settings.keep_parts:
        parts.remove()
    return run


def _screen(path: Path, options: ScoreOptions, executor: Executor, parts: Parts, run: EngineRun,
            stages: dict[str, dict[str, Any]], settings: EngineSettings, skip_invalid: bool, max_record_bytes: int,
            fields: FieldMap, progress: StartTask) -> int:
    """Pass 1 over every batch not yet screened; returns the number of batches."""
    require_file(path)  # a missing file or a folder is one error line, before any progress bar is drawn
    advance = progress("screening", estimate_records(path))
    reports: dict[int, list[dict[str, Any]]] = {}
    count = 0

    def jobs() -> Iterator[screen_pass.ScreenJob]:
        nonlocal count
        for batch in read_batches(path, run.stats, batch_size=settings.batch_size, skip_invalid=skip_invalid,
                                  max_record_bytes=max_record_bytes, fields=fields):
            count += 1
            if _todo(parts, screen_pass.PART, batch.index, run, "screen"):
                yield screen_pass.ScreenJob(batch.index, batch.rows, options, parts.folder, parts.fingerprint)
            else:
                reports[batch.index] = parts.stages(screen_pass.PART, batch.index)
                advance(len(batch.rows))

    for result in executor.map(screen_pass.screen_batch, jobs()):
        reports[result["index"]] = result["stages"]
        advance(result["rows"])
        _fault(settings, "screen", result["index"])
    for index in range(count):
        add_stage_reports(stages, reports[index])
    return count


def _render_jobs(parts: Parts, batches: int, run: EngineRun, summary: SummaryBuilder,
                 stages: dict[str, dict[str, Any]], container: str) -> Iterator[render_pass.RenderJob]:
    """Per batch, in order: count its verdicts into the summary, and the render job carrying the verdicts of
    the earlier records its repeats copy (the verdicts of ids that repeat are kept: the only ones needed later)."""
    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    stash: dict[str, dict[str, Any]] = {}
    shape_format = run.stats.shape.format if run.stats.shape else "alpaca"
    for index in range(batches):
        verdict_rows = parts.read_table(write_pass.PART, index).to_pylist()
        summary.add(verdict_rows)
        add_stage_reports(stages, parts.stages(write_pass.PART, index))
        screened = parts.read_table(SCREEN_PART, index, columns=["id", "repeat"]).to_pydict()
        here = {row["id"] for row in verdict_rows}
        originals = {i: stash[i] for i, repeat in zip(screened["id"], screened["repeat"], strict=True)
                     if repeat and i not in here}
        stash.update((row["id"], row) for row in verdict_rows if row["id"] in run.stats.repeated)
        if _todo(parts, render_pass.PART, index, run, "out", render_pass.SUFFIX[container]):
            yield render_pass.RenderJob(index, shape_format, container, originals, parts.folder, parts.fingerprint)


def _idle_reports(stages: list[Any]) -> list[dict[str, Any]]:
    """The reports of stages run over no sample."""
    from assay.tools.screen import run_stages

    return [vars(report) for report in run_stages([], stages).stages]


def _todo(parts: Parts, name: str, index: int, run: EngineRun, counter: str, suffix: str = ".parquet") -> bool:
    """Whether part `name` of batch `index` is still to compute (counted in `run.computed` when it is)."""
    if parts.done(name, index, suffix):
        return False
    run.computed[counter] += 1
    return True


def _fault(settings: EngineSettings, name: str, index: int) -> None:
    if settings.fault is not None:
        settings.fault(name, index)


def _settings_key(options: ScoreOptions, plugins: PluginSettings, batch_size: int, skip_invalid: bool,
                  max_record_bytes: int, fields: FieldMap, container: str) -> dict[str, Any]:
    """Everything besides the input files that decides the parts' content."""
    plain = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in ("screen", "plugins")}
    return {"engine": ENGINE_VERSION, "options": plain, "screen": options.screen.model_dump(mode="json"),
            "plugins": plugins.model_dump(mode="json"), "batch_size": batch_size, "skip_invalid": skip_invalid,
            "max_record_bytes": max_record_bytes, "fields": fields.specs(), "container": container}
