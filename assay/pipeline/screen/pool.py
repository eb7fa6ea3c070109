"""Bring samples into the run's pool: ingest the input files; screen round 0 in memory, and each round's additions.

Which screen a round gets is decided by engine/session_screen.py `screen_round` (round 0 always streams
on the engine); the in-memory round-0 screen here is the reference its tests and evals/bench_run_screen.py
compare with, and the screen of a pool with no seeds.

Each step is idempotent: samples are keyed by content hash, and each finds its work in the
session DB (what is not yet stored or screened) and marks itself done in the transaction of
its writes, so a step killed half-way and run again after `assay resume` does only what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assay.core.records import Sample, Status

SCREENED_META = "screened_rounds"


def ingest_inputs(deps: Any) -> None:
    """Read the input files into the session (embedding and storing what is new), once per session.

    Batch by batch (`[store] ingest_batch`), each batch committed on its own: a killed ingest
    keeps what it stored, and the rerun (`assay resume`) embeds and stores only the rest. The
    mark that ingest is done lands once the last batch has."""
    session = deps.session
    if session.meta("ingested"):
        return
    from assay.core.field_map import FieldMap
    from assay.pipeline.intake.check import check_inputs
    from assay.pipeline.intake.stream import ingest_files

    config = session.config
    paths = [Path(p) for p in deps.options.inputs]
    read = {"skip_invalid": deps.options.skip_invalid, "max_record_bytes": int(config.store.max_record_mb * 1e6),
            "fields": FieldMap.parse(deps.options.fields)}
    checked = check_inputs(paths, **read)  # validates before the first batch is stored, and counts for the ETA
    deps.emit("stage", {"name": "ingest", "total": checked.valid})
    report = ingest_files(session, paths, **read, checked=checked,
                          on_progress=lambda n: deps.emit("advance", {"name": "ingest", "n": n}))
    with session.conn:
        session.set_meta("ingested", True)
        session.set_meta("input_format", report.files[0].shape.format if report.files and report.files[0].shape else "alpaca")
    deps.emit("ingested", {"added": report.added, "invalid": report.invalid})


def screen_pool_in_memory(deps: Any, samples: list[Sample], mark_done: Callable[[], None]) -> None:
    """Screen round 0's `samples` all at once (score_pool), then record every verdict in one transaction.

    The reference the streaming screen (engine/session_screen.py) is tested against; `assay run` uses it only
    for a pool with no seeds (its stages still report, having seen nothing)."""
    from assay.pipeline.plugins import screen_stages
    from assay.pipeline.screen.scoring import ScoreOptions, VectorCache, score_pool
    from assay.pipeline.screen.record import apply_screen

    session, options = deps.session, deps.options
    store = session.store
    deps.emit("stage", {"name": "screen", "total": len(samples)})
    vectors = VectorCache([s.text() for s in samples], store.vectors([s.id for s in samples]), store.embedder.encode)
    score_options = ScoreOptions(dedup=tuple(options.dedup), decontam=tuple(Path(p) for p in options.decontam),
                                 ifd=options.ifd, seed=session.config.llm.seed, screen=session.config.screen,
                                 plugins=tuple(screen_stages(session.config.plugins)))
    result, clusters = score_pool(samples, score_options, vectors)
    with session.conn:
        apply_screen(session, result, clusters, round=0)
        mark_done()
    deps.emit("advance", {"name": "screen", "n": len(samples)})


def screen_additions(deps: Any, fresh: list[Sample], round: int, mark_done: Callable[[], None],
                     reference: Sequence[Sample] | None = None) -> None:
    """Screen new samples (repairs) against the active pool; assign each to its nearest cluster.

    `reference`: the pool samples dedup compares them with, in pool order; the whole active pool when None.
    engine/session_additions.py passes only those that can share a dedup group with them (same verdicts)."""
    if not fresh:
        mark_done()
        return
    from assay.pipeline.screen.clusters import nearest_clusters
    from assay.pipeline.plugins import screen_stages
    from assay.pipeline.screen.candidates import CandidateScreen
    from assay.trace.log import Decision

    session = deps.session
    fresh_ids = {s.id for s in fresh}
    pool = ([s for s in session.samples.iter(status=Status.ACTIVE) if s.id not in fresh_ids] if reference is None
            else list(reference))
    screen = CandidateScreen(pool, dedup_methods=[m for m in deps.options.dedup if m != "semantic"],
                             decontam=[Path(p) for p in deps.options.decontam], seed=session.config.llm.seed,
                             plugins=screen_stages(session.config.plugins), screen=session.config.screen)
    result = screen(fresh)
    store = session.store
    drops = [(s.id, result.outcomes[s.id]) for s in fresh if not result.outcomes[s.id].keep]
    kept = [s for s in fresh if result.outcomes[s.id].keep]
    labels = nearest_clusters(session, kept)
    with session.conn:
        for sample_id, outcome in drops:
            store.set_status([sample_id], Status.DROPPED, outcome.reason)
        store.set_scores({i: o.scores for i, o in result.outcomes.items() if o.scores})
        session.trace.decisions([Decision(i, result.dropped_by[i], "drop", o.reason, o.scores, round=round)
                                 for i, o in drops])
        if labels:
            store.set_tags({i: {"cluster": [str(c)]} for i, c in labels.items()})
        mark_done()
