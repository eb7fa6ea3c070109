"""Scoring a file (`assay score`): read, embed once, screen in stages, write, summarise."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from assay.core.config import Config
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.pipeline.intake.ingest import read_inputs
from assay.pipeline.plugins import screen_stages
from assay.pipeline.progress import Advance, StartTask, no_progress
from assay.pipeline.screen.scored_output import injection_flags, summary, write_scored
from assay.pipeline.screen.scoring import ScoreOptions, VectorCache, score_pool
from assay.session.session import Runtime, Session

if TYPE_CHECKING:
    from assay.session.embeddings import Embedder


class ScoreReport(TypedDict):
    """What `run_score` returns: outcomes by reason, score distributions, stage timings, clusters, files."""

    total: int
    by_reason: dict[str, int]
    scores: dict[str, dict[str, float]]
    stages: list[dict[str, Any]]
    cluster_table: list[dict[str, Any]]
    cluster_entropy: float | None
    clusters: int
    injection: int
    path: str
    out: str
    written: int
    invalid: int
    repeats: int
    session: str | None
    embed_seconds: float
    embedded: int  # texts the model encoded
    embeddings_cached: int  # texts answered by the shared embedding cache
    seconds: float


def run_score(path: Path, out: Path, *, config: Config, runtime: Runtime, session_dir: Path | None,
              skip_invalid: bool, methods: tuple[str, ...], decontam: tuple[Path, ...], ifd: bool,
              ifd_model: str | None, embed: bool, clusters: int | None,
              progress: StartTask = no_progress, fields: FieldMap = NO_MAPPING,
              embedder_factory: Callable[..., Embedder] | None = None) -> ScoreReport:
    """Score one file, its columns mapped by `fields`; returns the summary (also recorded in the session when one is given).

    `progress` starts a task for the embedding and one per screening stage. `embedder_factory`
    (store settings, env) builds the embedder (the Ray engine's actors); default `embedder_for`'s.
    """
    started = time.perf_counter()
    plugins = tuple(screen_stages(config.plugins))  # an unknown or broken plugin fails before any work
    read = read_inputs([path], skip_invalid=skip_invalid, max_record_bytes=int(config.store.max_record_mb * 1e6),
                       fields=fields)
    shape = read.files[0].shape
    samples = read.samples
    options = ScoreOptions(dedup=methods, decontam=decontam, ifd=ifd, ifd_model=ifd_model, embed=embed,
                           clusters=clusters, seed=config.llm.seed, screen=config.screen, plugins=plugins)
    session = Session.open(session_dir, runtime, config, create=True) if session_dir else None
    if session is not None:
        session.embedder_factory = embedder_factory
    vectors, embedder, embed_seconds = None, None, 0.0
    if embed and samples:
        advance = progress("embedding", len(samples))
        embed_started = time.perf_counter()
        vectors, embedder = _embed(samples, session, config, runtime.env, advance, embedder_factory)
        embed_seconds = time.perf_counter() - embed_started
    stage: dict[str, Any] = {}

    def finish_stage() -> None:
        # A stage's task is only ever advanced whole, when the next stage (or the end) comes.
        if stage:
            stage["advance"](stage["total"])

    def on_stage(name: str, alive: int) -> None:
        finish_stage()
        stage.update(advance=progress(name, alive), total=alive)

    result, cluster_of = score_pool(samples, options, vectors, on_stage=on_stage)
    finish_stage()
    injection = injection_flags(samples)
    written = write_scored(out, result, shape, cluster_of, read.records, injection)
    if session is not None:
        from assay.pipeline.screen.record import apply_screen

        apply_screen(session, result, cluster_of)
        session.close()
    report = summary(result)
    report["cluster_table"], report["cluster_entropy"] = _cluster_overview(cluster_of)
    report.update(
        path=str(path), out=str(out), written=written, invalid=len(read.invalid), repeats=read.files[0].repeats,
        embed_seconds=embed_seconds, embedded=embedder.encoded if embedder else 0,
        embeddings_cached=embedder.cached if embedder else 0, seconds=time.perf_counter() - started, session=str(session_dir) if session_dir else None,
        clusters=len(set(cluster_of.values())), injection=sum(bool(hits) for hits in injection.values()),
    )
    return report


def _embed(samples: list, session: Session | None, config: Config, env: Mapping[str, str],
           advance: Advance, factory: Callable[..., Embedder] | None = None) -> tuple[VectorCache, Embedder]:
    """Vectors of every sample's text (through the session's store, kept there, or computed here), and the embedder."""
    texts = [s.text() for s in samples]
    if session is not None:
        session.store.add(samples, on_progress=advance)
        store = session.store
        return VectorCache(texts, store.vectors([s.id for s in samples]), store.embedder.encode), store.embedder
    from assay.session.embeddings import embedder_for

    embedder = (factory or embedder_for)(config.store, env)  # the shared cache: a second score embeds nothing
    vectors: np.ndarray = embedder.encode(texts, on_batch=advance)
    return VectorCache(texts, vectors, embedder.encode), embedder


def _cluster_overview(cluster_of: dict[str, int]) -> tuple[list[dict[str, Any]], float | None]:
    """Per-cluster sizes and shares, and the normalised entropy of the distribution (1 = even)."""
    if not cluster_of:
        return [], None
    from collections import Counter

    from assay.tools.coverage import distribution_entropy

    sizes = Counter(cluster_of.values())
    total = sum(sizes.values())
    table = [{"cluster": c, "count": n, "share": n / total} for c, n in sorted(sizes.items(), key=lambda kv: -kv[1])]
    return table, distribution_entropy(list(cluster_of.values()), max(sizes) + 1).normalised
