"""`assay run`'s screening: round 0 over the session's seeds on the streaming engine, later rounds' additions.

    seeds, read ──► pass 1 screen ──► global dedup ──► pass 2 verdicts ──► clusters ──► record in the
    by a cursor     (screen_pass)      (dedup_pass)     IFD, plugins        (global)     session, per batch
                    heuristics,        exact, MinHash,
                    decontam           semantic

The passes are `assay score`'s (local.py), on the session's executor: local worker processes, or Ray
with `--engine ray`. Memory holds a batch of samples at a time. Clustering and semantic dedup alone
need a global view: each holds the survivors' vectors (read from the session's vector files in
batches) as one float32 matrix, never Sample objects (session_clusters.py, session_semantic.py).

Resumable as `assay score` is: parts in SESSION/screen-0.parts, keyed by a fingerprint of the
options (with the benchmark files' content and the embedder); a rerun computes only the missing
parts and records only the batches not yet recorded (a counter written in each batch's own
transaction). The round's done-mark and the screen event land
in the last batch's transaction, and the work folder goes after it.

Every option set streams. Decontamination (`--decontam`) runs in pass 1: n-grams in the workers, and
the embedding method from vectors the driver encodes a batch at a time before pass 1, the benchmark
items' once (session_decontam.py). Semantic dedup finds its pairs over the survivors' stored vectors
and joins them to the exact/MinHash groups (session_semantic.py). The in-memory screen
(screen/pool.py `screen_pool_in_memory`) stays as the reference the tests and the bench compare with.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from assay.core.records import Status
from assay.pipeline.engine import screen_pass, write_pass
from assay.pipeline.engine.batches import DEFAULT_BATCH_SIZE, Row
from assay.pipeline.engine.executor import Executor
from assay.pipeline.engine.parts import Parts, fingerprint
from assay.pipeline.engine.summary import add_stage_reports
from assay.pipeline.screen.pool import SCREENED_META
from assay.pipeline.screen.scoring import ScoreOptions

PARTS_DIR = "screen-0.parts"
ENGINE_VERSION = 1  # bump when a part's layout changes
Fault = Callable[[str, int], None]  # (step, batch index) after each part written or batch recorded: tests kill here


def screen_round(deps: Any, round: int, proposed_ids: Sequence[str]) -> None:
    """Screen the samples of this round with the LLM-free tools (round 0: the whole pool), once per round."""
    from assay.pipeline.engine.session_additions import screen_additions

    session = deps.session
    done = session.meta(SCREENED_META, [])
    if round in done:
        shutil.rmtree(Path(session.dir) / PARTS_DIR, ignore_errors=True)  # a kill between the mark and the removal
        return

    def mark_done() -> None:  # inside the screen's own transaction: its writes and this mark land together
        session.set_meta(SCREENED_META, [*done, round])

    if round == 0:
        screen_seeds(deps, mark_done)
    else:
        fresh = [s for s in session.samples.get(list(proposed_ids)) if s.status == Status.ACTIVE]
        screen_additions(deps, fresh, round, mark_done)


def session_executor(config: Any, batches: int) -> Executor:
    """The run's engine: Ray when `--engine ray` (its `--ray-address`), else local processes (inline for one batch)."""
    if config.llm.engine == "ray":
        from assay.pipeline.engine.ray_executor import RayExecutor

        return RayExecutor(address=config.llm.ray_address)
    from assay.pipeline.engine.executor import LocalExecutor
    from assay.pipeline.engine.score import PASS_MODULES

    return LocalExecutor(1 if batches <= 1 else None, preload=PASS_MODULES)


def screen_seeds(deps: Any, mark_done: Callable[[], None], *, executor: Executor | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, fault: Fault | None = None) -> None:
    """Screen round 0's seeds batch by batch and record the verdicts as `apply_screen` records them."""
    from assay.pipeline.engine.session_clusters import cluster_survivors
    from assay.pipeline.engine.session_record import record_batches
    from assay.pipeline.plugins import screen_stages

    session, config = deps.session, deps.session.config
    screen_stages(config.plugins)  # an unknown or broken plugin fails before any work
    total = int(session.conn.execute("SELECT COUNT(*) FROM samples WHERE op = 'seed'").fetchone()[0])
    if not total:  # nothing to stream: the in-memory screen reports its idle stages
        from assay.pipeline.screen.pool import screen_pool_in_memory

        return screen_pool_in_memory(deps, [], mark_done)
    options = ScoreOptions(dedup=tuple(deps.options.dedup), decontam=tuple(Path(p) for p in deps.options.decontam),
                           ifd=deps.options.ifd, embed=False, seed=config.llm.seed, screen=config.screen)
    key = fingerprint([], {"engine": ENGINE_VERSION, "session": session.id, "seeds": total, "batch_size": batch_size,
                           "dedup": options.dedup, "ifd": options.ifd, "seed": options.seed,
                           "decontam": [[str(p), _content_hash(p)] for p in options.decontam],
                           "semantic_threshold": config.screen.semantic.threshold,
                           "embedder": str(getattr(session.store.embedder, "identity", type(session.store.embedder))),
                           "screen": config.screen.model_dump(mode="json"),
                           "plugins": config.plugins.model_dump(mode="json")})
    parts = Parts.open(Path(session.dir) / PARTS_DIR, key)
    batches = -(-total // batch_size)
    hook = fault or (lambda step, index: None)
    deps.emit("stage", {"name": "screen", "total": total})
    if options.decontam and not all(parts.done(screen_pass.PART, i) for i in range(batches)):
        # the embedding method's vectors, encoded here before the workers start
        from assay.pipeline.engine.session_decontam import encode_batches

        encode_batches(session, parts, options, ((i, rows) for i, rows in enumerate(seed_batches(session, batch_size))
                                                 if not parts.done(screen_pass.PART, i)))
    owned = executor is None
    executor = executor or session_executor(config, batches)
    if config.llm.engine == "ray":
        # Embedding actors reserve their node's CPUs while alive; idle now (the screen reads stored
        # vectors), they would keep every screen task waiting. The embedder restarts them on next use.
        session.store.release_embedder()
    try:
        stages = _verdicts(deps, options, executor, parts, batches, batch_size, hook)
    finally:
        if owned:
            executor.close()
    add_stage_reports(stages, cluster_survivors(session, parts, batches, options.seed, hook))
    record_batches(session, parts, batches, list(stages.values()), total, mark_done, hook)
    parts.remove()


def _verdicts(deps: Any, options: ScoreOptions, executor: Executor, parts: Parts, batches: int, batch_size: int,
              fault: Fault) -> dict[str, dict[str, Any]]:
    """Pass 1, the global dedup and pass 2, each computing only its missing parts; the stage totals."""
    session, plugins = deps.session, deps.session.config.plugins
    stages: dict[str, dict[str, Any]] = {}

    def advance(n: int) -> None:
        deps.emit("advance", {"name": "screen", "n": n})

    def jobs() -> Iterator[screen_pass.ScreenJob]:
        for index, rows in enumerate(seed_batches(session, batch_size)):
            if parts.done(screen_pass.PART, index):
                advance(len(rows))
            else:
                yield screen_pass.ScreenJob(index, rows, options, parts.folder, parts.fingerprint, injection=False,
                                            decontam_vectors=bool(options.decontam))

    for result in executor.map(screen_pass.screen_batch, jobs()):
        advance(result["rows"])
        fault("screen", result["index"])
    for index in range(batches):
        add_stage_reports(stages, parts.stages(screen_pass.PART, index))
    if options.dedup:
        from assay.pipeline.engine.dedup_pass import run_dedup
        from assay.pipeline.progress import no_progress

        started = time.perf_counter()
        semantic = partial(_semantic_pairs, session, parts, batches, batch_size, options) \
            if "semantic" in options.dedup else None  # called only when the dedup is not done already
        report = run_dedup(parts, batches, batch_size, options, executor, no_progress, semantic)
        report.pop("computed")
        add_stage_reports(stages, [{**report, "seconds": time.perf_counter() - started}])
    finish = (write_pass.FinishJob(i, options, plugins, parts.folder, parts.fingerprint) for i in range(batches)
              if not parts.done(write_pass.PART, i))
    for result in executor.map(write_pass.finish_batch, finish):
        fault("verdict", result["index"])
    for index in range(batches):
        add_stage_reports(stages, parts.stages(write_pass.PART, index))
    return stages


def _semantic_pairs(session: Any, parts: Parts, batches: int, batch_size: int, options: ScoreOptions) -> Any:
    """The pool's semantic pairs (session_semantic.py), found on the driver with the session's encoder."""
    from assay.pipeline.engine.session_semantic import semantic_pairs_of

    pairs = semantic_pairs_of(session, parts, batches, batch_size, options)
    if session.config.llm.engine == "ray":
        session.store.release_embedder()  # its actors would hold the CPUs the dedup tasks need
    return pairs


def _content_hash(path: Path) -> str:
    """A benchmark file's content: an edited file screens afresh, whatever its size and time say."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def seed_batches(session: Any, batch_size: int) -> Iterator[tuple[Row, ...]]:
    """The session's seeds in insertion order, `batch_size` rows a batch (the last may hold fewer), read by one
    cursor; a row's position counts the seeds before it, as the dedup step expects (position // batch_size)."""
    rows: list[Row] = []
    position = 0
    for batch in session.samples.batches(size=batch_size):
        for sample in batch:
            if sample.op != "seed":
                continue
            rows.append(Row(position, sample, False))
            position += 1
            if len(rows) == batch_size:
                yield tuple(rows)
                rows = []
    if rows:
        yield tuple(rows)
