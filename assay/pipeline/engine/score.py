"""`assay score`'s entry: the streaming engine where it applies, the in-memory screen (screen/files.py) elsewhere.

The dispatch lives here, above pipeline/screen, because the engine builds on the screen's
stages and output rules (screen must not import engine: no cycles between services).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.pipeline.engine.batches import DEFAULT_BATCH_SIZE
from assay.pipeline.engine.executor import Executor, LocalExecutor
from assay.pipeline.progress import StartTask, no_progress
from assay.pipeline.screen.files import ScoreReport, run_score
from assay.pipeline.screen.scoring import ScoreOptions
from assay.session.session import Runtime


# What a local worker runs: imported once by the fork server rather than by every worker.
PASS_MODULES = ("assay.pipeline.engine.screen_pass", "assay.pipeline.engine.dedup_pass",
                "assay.pipeline.engine.write_pass", "assay.pipeline.engine.render_pass")


def streams(*, embed: bool, session_dir: Path | None) -> bool:
    """Whether `assay score` runs on the streaming engine: without embeddings and without a session.

    Embeddings (clusters, semantic dedup, paraphrase decontamination) and a session (apply_screen
    records the whole pool at once) still take the in-memory path.
    """
    return not embed and session_dir is None


def score_file(path: Path, out: Path, *, config: Config, runtime: Runtime, session_dir: Path | None,
               skip_invalid: bool, methods: tuple[str, ...], decontam: tuple[Path, ...], ifd: bool,
               ifd_model: str | None, embed: bool, clusters: int | None, progress: StartTask = no_progress,
               fields: FieldMap = NO_MAPPING, workers: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
               executor: Executor | None = None, embedder_factory: Callable[..., Any] | None = None) -> ScoreReport:
    """Score one file as `run_score` does; streamed in batches of `batch_size` on `executor` (default: `workers`
    local processes) when `streams` says so, with the same output file and summary. Otherwise in memory, the
    embedder built by `embedder_factory` (the Ray engine's actor pool; default: in this process)."""
    if not streams(embed=embed, session_dir=session_dir):
        if executor is not None:
            raise AssayError("this engine runs only the streaming path: score with --no-embed and without --session")
        return run_score(path, out, config=config, runtime=runtime, session_dir=session_dir, skip_invalid=skip_invalid,
                         methods=methods, decontam=decontam, ifd=ifd, ifd_model=ifd_model, embed=embed,
                         clusters=clusters, progress=progress, fields=fields, embedder_factory=embedder_factory)
    from assay.pipeline.engine.local import EngineSettings, score_streaming
    from assay.pipeline.plugins import screen_stages

    started = time.perf_counter()
    screen_stages(config.plugins)  # an unknown or broken plugin fails before any work
    executor = executor or LocalExecutor(workers, preload=PASS_MODULES)
    options = ScoreOptions(dedup=methods, decontam=decontam, ifd=ifd, ifd_model=ifd_model, embed=False,
                           seed=config.llm.seed, screen=config.screen)
    try:
        run = score_streaming(path, out, options, plugins=config.plugins, executor=executor, skip_invalid=skip_invalid,
                              max_record_bytes=int(config.store.max_record_mb * 1e6), fields=fields,
                              settings=EngineSettings(batch_size=batch_size), progress=progress)
    finally:
        executor.close()
    report = run.summary
    report.update(
        cluster_table=[], cluster_entropy=None, clusters=0, path=str(path), out=str(out), written=run.stats.valid,
        invalid=run.stats.invalid, repeats=run.stats.repeats, session=None, embed_seconds=0.0, embedded=0,
        embeddings_cached=0, seconds=time.perf_counter() - started,
    )
    return report  # type: ignore[return-value]
