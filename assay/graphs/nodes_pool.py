"""Nodes that bring samples into the pool and assess them: ingest, screen, judge, measure.

Each node is idempotent: samples are keyed by content hash, and a node finds its work in the
session DB (what is not yet stored, screened or judged), so a node killed half-way and run
again after `assay resume` does only what is left, and the LLM cache answers what was paid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.graphs.deps import CurationDeps
from assay.graphs.measure import measure
from assay.graphs.state import CurationState
from assay.core.records import Sample, Status

SCREENED_META = "screened_rounds"


def make_ingest(deps: CurationDeps):  # noqa: ANN201 - a LangGraph node
    """Read the input files into the session (embedding and storing what is new)."""

    async def ingest(state: CurationState) -> dict[str, Any]:
        if deps.session.meta("ingested"):
            return {}
        from assay.pipeline.ingest import read_inputs, store_inputs

        config = deps.session.config
        read = read_inputs([Path(p) for p in deps.options.inputs], skip_invalid=deps.options.skip_invalid,
                           max_record_bytes=int(config.store.max_record_mb * 1e6))
        deps.emit("stage", {"name": "ingest", "total": len(read.samples)})
        session = deps.session
        with session.conn:  # the samples and the mark that ingest is done land together
            report = store_inputs(session, read, on_progress=lambda n: deps.emit("advance", {"name": "ingest", "n": n}))
            session.set_meta("ingested", True)
            session.set_meta("input_format", read.files[0].shape.format if read.files and read.files[0].shape else "alpaca")
        deps.emit("ingested", {"added": report.added, "invalid": report.invalid})
        return {}

    return ingest


def make_screen(deps: CurationDeps):  # noqa: ANN201
    """Screen the samples of this round with the LLM-free tools (round 0: the whole pool)."""

    async def screen(state: CurationState) -> dict[str, Any]:
        done = deps.session.meta(SCREENED_META, [])
        if state.round in done:
            return {}
        session = deps.session

        def mark_done() -> None:  # inside the screen's own transaction: its writes and this mark land together
            session.set_meta(SCREENED_META, [*done, state.round])

        if state.round == 0:
            samples = [s for s in session.samples.iter() if s.op == "seed"]
            _screen_pool(deps, samples, mark_done)
        else:
            fresh = [s for s in session.samples.get(state.proposed_ids) if s.status == Status.ACTIVE]
            _screen_additions(deps, fresh, state.round, mark_done)
        return {}

    return screen


def _screen_pool(deps: CurationDeps, samples: list[Sample], mark_done: Callable[[], None]) -> None:
    from assay.pipeline.scoring import ScoreOptions, VectorCache, score_pool
    from assay.pipeline.screen_session import apply_screen

    session, options = deps.session, deps.options
    store = session.store
    deps.emit("stage", {"name": "screen", "total": len(samples)})
    vectors = VectorCache([s.text() for s in samples], store.vectors([s.id for s in samples]), store.embedder.encode)
    score_options = ScoreOptions(dedup=tuple(options.dedup), decontam=tuple(Path(p) for p in options.decontam),
                                 ifd=options.ifd, seed=session.config.llm.seed)
    result, clusters = score_pool(samples, score_options, vectors)
    with session.conn:
        apply_screen(session, result, clusters, round=0)
        mark_done()
    deps.emit("advance", {"name": "screen", "n": len(samples)})


def _screen_additions(deps: CurationDeps, fresh: list[Sample], round: int, mark_done: Callable[[], None]) -> None:
    """Screen new samples (repairs) against the active pool; assign each to its nearest cluster."""
    if not fresh:
        mark_done()
        return
    from assay.pipeline.expansion_screen import CandidateScreen
    from assay.graphs.clusters import nearest_clusters
    from assay.trace.log import Decision

    session = deps.session
    fresh_ids = {s.id for s in fresh}
    pool = [s for s in session.samples.iter(status=Status.ACTIVE) if s.id not in fresh_ids]
    screen = CandidateScreen(pool, dedup_methods=[m for m in deps.options.dedup if m != "semantic"],
                             decontam=[Path(p) for p in deps.options.decontam], seed=session.config.llm.seed)
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


def make_judge(deps: CurationDeps):  # noqa: ANN201
    """Judge every active sample that has no verdict yet (and retry the failed ones)."""

    async def judge(state: CurationState) -> dict[str, Any]:
        report = await judge_pending(deps, state.round)
        if report is not None and report.budget_spent:
            return {"stop_reason": "budget_spent", "stop_message": report.budget_spent}
        return {}

    return judge


async def judge_pending(deps: CurationDeps, round: int) -> Any:
    """Judge the active samples with no verdict yet and attempts left (a failure of an earlier
    pass is tried again here); returns the pass's report, or None when there was nothing to do."""
    from assay.session.judgements import judge_attempts, to_judge
    from assay.pipeline.judging import JudgePoolReport, judge_by_llm, judge_pool

    session = deps.session
    pending = to_judge(session.conn, session.samples.iter(status=Status.ACTIVE), session.config.judge.max_attempts)
    if not pending:
        return None
    deps.emit("stage", {"name": "judge", "total": len(pending)})
    tried = judge_attempts(session.conn, [s.id for s in pending])
    fresh = [s for s in pending if s.id not in tried]
    report = await judge_pool(deps, fresh, round) if fresh else JudgePoolReport()
    if not report.budget_spent and len(fresh) < len(pending):
        # A retry is the LLM's: the classifier of --judge-sample scores only samples it was never asked about.
        await judge_by_llm(deps, [s for s in pending if s.id in tried], round, report)
    deps.emit("judged", report.summary())
    return report


def make_measure(deps: CurationDeps):  # noqa: ANN201
    """Compute the targeted metrics and the gap to each target."""

    async def measure_node(state: CurationState) -> dict[str, Any]:
        config = deps.session.config
        found = measure(deps.session, config.targets, cluster_min=deps.options.cluster_min,
                        contamination_checked=bool(deps.options.decontam))
        deps.emit("measured", {"round": state.round, "metrics": found.metrics,
                               "targets": [t.model_dump() for t in found.targets]})
        return {"metrics": found.metrics, "targets": found.targets}

    return measure_node
