"""Expanding for a request (`assay expand`): find seeds, expand, write what passed, summarise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from assay.agents.base import AgentContext
from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.pipeline.expand.steps import CandidateScreen, ExpandOptions, ExpansionAgents, ExpansionReport
from assay.pipeline.plugins import judge_function, screen_stages
from assay.core.formats import sample_to_record
from assay.core.records import FormatName, Sample, Status
from assay.pipeline.screen.scoring import VectorCache
from assay.session.session import Runtime, Session, session_for_output

ASSAY_KEY = "_assay"
# The expansion itself: the caller passes the graph that runs it (assay.graphs.expansion.expand),
# a layer above this one, with the arguments (agents, request, seeds, screen, trace, options, fmt=).
ExpandRunner = Callable[..., Awaitable[ExpansionReport]]


class ExpandSummary(TypedDict, total=False):
    """What `run_expand` returns: the expansion's own summary (ExpansionReport.summary) and where things went."""

    request: str
    plan: dict[str, Any] | None
    seeds: list[str]
    seedless: bool
    generated: int
    kept: int
    rejected: int
    by_reason: dict[str, int]
    problems: list[str]
    stopped: str | None
    calls: int
    tokens: int
    cost_usd: float
    seed_instructions: list[str]
    out: str
    written: int
    seconds: float
    session: str
    dry_run: bool
    model: str
    pool: str | None


@dataclass(frozen=True)
class Seeds:
    """Where the expansion starts: the seeds, the pool new samples must differ from, and its format."""

    seeds: list[Sample]
    reference: list[Sample]
    vectors: VectorCache | None
    fmt: FormatName


def run_expand(request: str, out: Path, *, config: Config, runtime: Runtime, pool: Path | None,
               session_dir: Path | None, options: ExpandOptions, n_seeds: int, decontam: tuple[Path, ...],
               dedup: tuple[str, ...], embed: bool, expand: ExpandRunner,
               status: Callable[[str], AbstractContextManager[object]] = nullcontext,
               fields: FieldMap = NO_MAPPING) -> ExpandSummary:
    """Expand for `request`, write the kept samples to `out`; returns the summary for the CLI.

    `expand` runs the expansion (the subgraph); `status(message)` wraps each long step (the CLI
    shows a spinner with the message); `fields` maps the pool file's columns (`--field`).
    """
    if fields and pool is None:
        raise AssayError("--field maps the columns of the --pool file: give --pool, or leave --field out")
    if pool is not None and session_dir is not None:
        raise AssayError("give --pool or --session, not both: the seeds come from one of them")
    if not request.strip():
        raise AssayError("the request is empty: describe the samples to grow, e.g. \"50 hard SQL debugging questions\"")
    started = time.perf_counter()
    if session_dir is not None:
        session = Session.open(session_dir, runtime, config, create=False)
    else:
        session = session_for_output(out, None, runtime, config, command="expand")
    config = session.config  # the session's recipe, with this command's own settings laid over it
    try:
        # An unknown or broken judge plugin fails here, before the seeds are read.
        judge = judge_function(config.plugins, code_criterion=config.judge.code_criterion)
        with status("finding seeds…"):
            found = _find_seeds(session if session_dir is not None else None, pool, request, n_seeds, embed, config,
                                runtime.env, fields)
        screen = CandidateScreen(found.reference, dedup_methods=tuple(m for m in dedup if embed or m != "semantic"),
                                 vectors=found.vectors, decontam=decontam, seed=config.llm.seed,
                                 plugins=screen_stages(config.plugins), screen=config.screen)
        roles = ("synthesizer", "decomposer", "judge")
        agents = ExpansionAgents(*(AgentContext.for_session(session, role) for role in roles),
                                 judge)
        with status(f"expanding with {agents.synthesizer.model} (see the trace for every call)…"):
            report = asyncio.run(expand(agents, request, found.seeds, screen, session.trace, options, fmt=found.fmt))
        written = _write(out, report, found.fmt)
        if session_dir is not None:
            _record_in_session(session, report)
    finally:
        session.close()
    summary = report.summary()
    summary.update(seed_instructions=[s.instruction for s in found.seeds], out=str(out), written=written,
                   seconds=time.perf_counter() - started, session=str(session.dir), dry_run=config.dry_run,
                   model=agents.synthesizer.model, pool=str(pool) if pool else None)
    return summary


def _find_seeds(session: Session | None, pool: Path | None, request: str, k: int, embed: bool, config: Config,
                env: Mapping[str, str], fields: FieldMap = NO_MAPPING) -> Seeds:
    """Seeds from the session's store, else from the pool file, else none (the request alone)."""
    if session is not None:
        return _seeds_from_session(session, request, k, embed)
    if pool is not None:
        return _seeds_from_pool(pool, request, k, embed, config, env, fields)
    return Seeds([], [], _embedder_cache(config, env) if embed else None, "alpaca")


def _seeds_from_pool(pool: Path, request: str, k: int, embed: bool, config: Config, env: Mapping[str, str],
                     fields: FieldMap = NO_MAPPING) -> Seeds:
    from assay.pipeline.intake.ingest import read_inputs

    read = read_inputs([pool], skip_invalid=False, max_record_bytes=int(config.store.max_record_mb * 1e6), fields=fields)
    shape = read.files[0].shape
    samples = read.samples
    if not samples:
        raise AssayError(f"{pool}: no samples to take seeds from")
    fmt: FormatName = shape.format if shape else "alpaca"
    if not embed:
        return Seeds(_nearest_by_words(samples, request, k, config), samples, None, fmt)
    cache = _embedder_cache(config, env)
    vectors = cache.encode([s.text() for s in samples])
    query = cache.encode([request])[0]
    order = np.argsort(-(vectors @ query), kind="stable")
    return Seeds(_clean_first([samples[i] for i in order], k, config), samples, cache, fmt)


def _clean_first(ranked: list[Sample], k: int, config: Config) -> list[Sample]:
    """The first `k` samples the heuristic screen keeps: a defective seed (merged, truncated …) breeds defects."""
    from assay.pipeline.screen.scoring import heuristic_screen

    screen = heuristic_screen(config.screen.heuristics)  # the recipe's filters and thresholds; None: all off
    return [s for s in ranked[: k * 5] if screen is None or screen.assess(s).keep][:k]


def _seeds_from_session(session: Session, request: str, k: int, embed: bool) -> Seeds:
    store = session.store
    reference = list(session.samples.iter())
    if not reference:
        raise AssayError(f"{session.dir}: the session holds no samples to take seeds from; `assay ingest` some first")
    hits = store.query_text(request, k, where={"status": {"$ne": Status.DROPPED.value}})
    seeds = store.get([h.id for h in hits])
    vectors = None
    if embed:
        ids = [s.id for s in reference]
        vectors = VectorCache([s.text() for s in reference], store.vectors(ids), store.embedder.encode)
    origin = seeds[0].origin if seeds else None
    return Seeds(seeds, reference, vectors, origin.format if origin else "alpaca")


def _embedder_cache(config: Config, env: Mapping[str, str]) -> VectorCache:
    """An encoder that remembers what it embedded (the model loads on first use; the shared cache behind it)."""
    from assay.session.embeddings import embedder_for

    embedder = embedder_for(config.store, env)
    return VectorCache([], np.zeros((0, 0), dtype=np.float32), embedder.encode)


def _nearest_by_words(samples: list[Sample], request: str, k: int, config: Config) -> list[Sample]:
    """Without embeddings: the samples sharing the most content words with the request."""
    from assay.agents.elimination import content_words

    wanted = content_words(request)
    overlap = [len(wanted & content_words(s.instruction)) for s in samples]
    order = sorted(range(len(samples)), key=lambda i: -overlap[i])
    return _clean_first([samples[i] for i in order], k, config)


def _write(out: Path, report: ExpansionReport, fmt: FormatName) -> int:
    from assay.core.readers import container_of_name
    from assay.core.writers import write_records

    rows = []
    for kept in report.kept:
        row = {key: value for key, value in sample_to_record(kept.sample, fmt).items() if key != ASSAY_KEY}
        row[ASSAY_KEY] = {"id": kept.sample.id, "parent_ids": list(kept.sample.parent_ids), "op": kept.op,
                          "hop": kept.hop, "seed_id": kept.seed_id, "topic": kept.topic,
                          "attributes": list(kept.attributes), "persona": kept.sample.tags.get("persona", [None])[0],
                          "relevance": kept.relevance, "judge_overall": kept.judge_overall}
        rows.append(row)
    return write_records(out, rows, container_of_name(out))


def _record_in_session(session: Session, report: ExpansionReport) -> None:
    """Store the new samples in the session: kept ones active, rejected ones dropped with their reason.

    Only samples this call added change status: a rejected exact copy of a stored sample (or
    of a kept twin) must not drop the original.
    """
    kept = {k.sample.id: k.sample for k in report.kept}
    rejected = {r.sample.id: r for r in report.rejected if r.sample is not None and r.sample.id not in kept}
    added = set(session.store.add([*kept.values(), *(r.sample for r in rejected.values())]))
    for sample_id, rejection in rejected.items():
        if sample_id in added:
            session.store.set_status([sample_id], Status.DROPPED, rejection.reason)
    session.store.set_scores({i: s.scores for i, s in kept.items() if i in added})
