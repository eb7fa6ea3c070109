"""Embeddings on a Ray actor pool (issue 14, item 4): the local embedder's vectors, in input order, a batch whose
actor dies mid-batch sent to another actor, the shared cache in front (a cached text never reaches Ray), and
`assay run` with the Ray engine leaving the session the local engine leaves.

One Ray runtime per parametrisation of the module fixture (a local Ray of 2 CPUs, then a simulated cluster of
two 1-CPU nodes); the tests that need none run in the fast suite.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assay.core.config import Config, LLMSettings, StoreSettings, Targets
from assay.core.errors import ConfigError
from assay.pipeline.engine.ray_embed import RayEmbedder, engine_embedder
from assay.session.embedding_cache import open_cache
from assay.session.embeddings import Embedder
from tests.conftest import EXAMPLES, fixed_runtime
from tests.ray_env import ray_runtime  # noqa: F401  (the fixture)


def texts_of(path: Path) -> list[str]:
    """Each record's text, as the session embeds it (instruction, input, output)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return ["\n".join(str(r.get(k, "")) for k in ("instruction", "input", "output")) for r in rows]


def test_engine_embedder_follows_the_sessions_engine() -> None:
    assert engine_embedder(Config()) is None  # local: the store builds `embedder_for`'s, in this process
    config = Config(llm=LLMSettings(engine="ray", ray_address="auto"),
                    store=StoreSettings(embedding_ray_actors=3, embedding_ray_gpus=0.5, embedding_cache="off"))
    factory = engine_embedder(config)
    assert factory is not None
    embedder = factory(config.store, {})
    assert isinstance(embedder, RayEmbedder) and embedder.cache is None
    assert (embedder.address, embedder.size, embedder.gpus, embedder.pool) == ("auto", 3, 0.5, [])  # nothing started


def test_cached_texts_never_reach_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = texts_of(EXAMPLES / "quickstart.jsonl")
    cache = open_cache(str(tmp_path / "cache"), {})
    reference = Embedder(cache=cache).encode(texts)  # fills the shared cache
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails: any text sent to Ray would say so
    embedder = RayEmbedder(cache=cache, actors=2, gpus=0)  # CPU actors: fp32, the local vectors' key
    assert np.array_equal(embedder.encode(texts), reference)
    assert (embedder.cached, embedder.encoded, embedder.pool) == (len(texts), 0, [])
    with pytest.raises(ConfigError, match=r"pip install 'assay\[ray\]'"):  # one new text needs Ray
        embedder.encode([*texts, "a text the cache has never seen"])


def test_gpu_actors_vectors_are_keyed_apart_from_cpu_ones() -> None:
    # fp16 vectors from GPU actors must never answer for fp32 CPU ones in the shared cache, nor the reverse.
    on_gpus, on_cpus = RayEmbedder(gpus=1), RayEmbedder(gpus=0)
    assert (on_gpus.precision, on_cpus.precision) == ("float16", "float32")
    assert on_gpus.identity == Embedder(device="cuda").identity != Embedder(device="cpu").identity == on_cpus.identity
    assert on_gpus.pool == on_cpus.pool == []  # known without starting anything


@pytest.fixture(scope="module")
def pool_reference() -> tuple[list[str], np.ndarray]:
    """The 155-sample pool's texts and the local embedder's vectors for them."""
    texts = texts_of(EXAMPLES / "pool.jsonl")
    return texts, Embedder().encode(texts)


def actor_nodes(embedder: RayEmbedder) -> set[str]:
    import ray

    return {node for node, device in ray.get([actor.where.remote() for actor in embedder.pool])}


@pytest.mark.slow
def test_vectors_are_the_local_embedders_in_input_order(ray_runtime: str,
                                                        pool_reference: tuple[list[str], np.ndarray]) -> None:
    quickstart = texts_of(EXAMPLES / "quickstart.jsonl")
    embedder = RayEmbedder(actors=2)
    try:
        # One default batch holds the whole file: the actor encodes exactly what the local encoder does.
        assert np.array_equal(embedder.encode(quickstart), Embedder().encode(quickstart))
        texts, reference = pool_reference
        embedder.batch_texts = 16  # ten batches, finishing in any order
        reported: list[int] = []
        vectors = embedder.encode(texts, on_batch=reported.append)
        nodes = actor_nodes(embedder)
    finally:
        embedder.close()
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    # Batches cut elsewhere than the local encoder's windows pad differently: equal up to float rounding.
    assert float(np.min(np.sum(vectors * reference, axis=1))) >= 0.999
    assert float(np.max(np.abs(vectors - reference))) < 1e-5
    assert sorted(reported) == sorted([16] * 9 + [11]) and sum(reported) == len(texts)  # progress per batch
    assert 2 < embedder.peak_in_flight <= 4  # 2 actors, at most 2 batches each in flight
    assert embedder.encoded == len(quickstart) + len(texts) and embedder.retried == 0
    assert embedder.dimension == 384
    assert len(nodes) == (2 if ray_runtime == "two_nodes" else 1)  # one actor per node of the cluster


def die_once(log: str, marker: str, index: int, texts: Any) -> None:
    """The actors' hook: log (batch, process); in batch 3, the first time, end the actor's process as a crash would."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{index} {os.getpid()}\n")
    if index == 3 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)


@pytest.mark.slow
def test_an_actor_killed_mid_batch_costs_only_its_batch(ray_runtime: str, tmp_path: Path,
                                                        pool_reference: tuple[list[str], np.ndarray]) -> None:
    import functools

    texts, reference = pool_reference
    log, marker = tmp_path / "batches.log", tmp_path / "killed"
    embedder = RayEmbedder(actors=2, batch_texts=16, hook=functools.partial(die_once, str(log), str(marker)))
    try:
        vectors = embedder.encode(texts)
    finally:
        embedder.close()
    assert marker.exists()  # the kill happened
    assert float(np.max(np.abs(vectors - reference))) < 1e-5  # nothing lost, every row in its place
    runs = [tuple(map(int, line.split())) for line in log.read_text(encoding="utf-8").splitlines()]
    counts = Counter(index for index, _ in runs)
    assert set(counts) == set(range(10)) and counts[3] == 2  # every batch ran; batch 3 twice
    killed, again = [pid for index, pid in runs if index == 3]
    assert killed != again  # on another actor: the dead one's process is gone
    # Only the dead actor's work is redone: batch 3, and at most the other batch it held (queued, or finished with
    # its reply still unsent when the process ended).
    redone = {index for index, n in counts.items() if n > 1}
    assert redone - {3} <= {index for index, pid in runs if pid == killed} and len(redone) <= 2
    assert len(redone) <= embedder.retried <= 2  # re-sent: those, and a batch queued on the dead actor, if one was


def refuse_batch_2(index: int, texts: Any) -> None:
    """The actors' hook: the encoder's own error in batch 2 (a bad input, not a lost actor)."""
    if index == 2:
        raise ValueError(f"batch {index} cannot be encoded")


@pytest.mark.slow
def test_an_encoders_own_error_is_raised_as_itself_not_retried(ray_runtime: str,
                                                               pool_reference: tuple[list[str], np.ndarray]) -> None:
    embedder = RayEmbedder(actors=2, batch_texts=16, hook=refuse_batch_2)
    try:
        with pytest.raises(ValueError, match="batch 2 cannot be encoded"):
            embedder.encode(pool_reference[0])
    finally:
        embedder.close()
    assert embedder.retried == 0


def run_session(directory: Path, pool: Path, engine: str) -> dict[str, Any]:
    """`assay run`'s driver over a fresh session (scripted LLM), and what the session holds before it closes."""
    from assay.cli.run import drive
    from assay.pipeline.deps import RunOptions
    from assay.session.session import Session
    from assay.testing.scripted import ScriptedTransport, scripted_gateway
    from tests.curation_world import CurationWorld

    config = Config(targets=Targets(size=19, quality_floor=3.0, coverage=1.0), llm=LLMSettings(engine=engine),
                    store=StoreSettings(embedding_cache="off", embedding_ray_actors=2))  # no cache: both embed
    session = Session.open(directory, fixed_runtime(), config, create=True)
    session.gateway = scripted_gateway(session, ScriptedTransport(default=CurationWorld()))  # type: ignore[misc]
    try:
        outcome = asyncio.run(drive(session, RunOptions(inputs=[str(pool)], cluster_min=3), lambda kind, data: None,
                                    resume=False))
        samples = sorted((s.id, s.status.value, s.reason or "", s.op) for s in session.samples.iter())
        embedder = session.store.embedder
        nodes = actor_nodes(embedder) if isinstance(embedder, RayEmbedder) else set()
        vectors = session.store.vectors([sample_id for sample_id, *_ in samples])
        return {"finished": outcome.finished, "samples": samples, "vectors": vectors, "embedder": embedder,
                "nodes": nodes, "curated": (directory / "curated.jsonl").read_text(encoding="utf-8")}
    finally:
        session.close()


@pytest.mark.slow
def test_assay_run_on_the_ray_engine_leaves_the_local_engines_session(ray_runtime: str, tmp_path: Path) -> None:
    from tests.test_curation_graph import write_pool

    pool = write_pool(tmp_path / "pool.jsonl")
    local = run_session(tmp_path / "local", pool, "local")
    on_ray = run_session(tmp_path / "ray", pool, "ray")
    assert local["finished"] and on_ray["finished"]
    assert type(local["embedder"]) is Embedder and isinstance(on_ray["embedder"], RayEmbedder)
    assert on_ray["embedder"].encoded > 0 and on_ray["embedder"].cached == 0  # every text went to the actors
    assert on_ray["samples"] == local["samples"] and len(local["samples"]) > 19  # same ids, statuses, reasons
    # The same rows, in id order. On CPU they are equal bit for bit where the actor's torch runs as many threads as
    # this process; a one-CPU actor (1 thread) differs from 2 threads here by float rounding in one- to three-text
    # batches (seen: at most 1.3e-7), as this process itself does when its thread count changes.
    assert on_ray["vectors"].shape == local["vectors"].shape
    assert float(np.max(np.abs(on_ray["vectors"] - local["vectors"]))) <= 1e-6
    assert on_ray["curated"] == local["curated"]
    assert len(on_ray["nodes"]) == (2 if ray_runtime == "two_nodes" else 1)


@pytest.mark.slow
def test_assay_score_with_embeddings_on_the_ray_engine_writes_the_local_engines_file(ray_runtime: str,
                                                                                      tmp_path: Path) -> None:
    from assay.pipeline.engine.score import score_file
    from assay.session.session import Runtime

    made: list[RayEmbedder] = []

    def on_ray(settings: StoreSettings, env: Any) -> RayEmbedder:
        from assay.pipeline.engine.ray_embed import ray_embedder_for

        made.append(ray_embedder_for(settings, env))
        return made[-1]

    def score(out: Path, factory: Any) -> dict[str, Any]:
        config = Config(store=StoreSettings(embedding_cache="off"))  # no cache: both runs embed
        report = score_file(EXAMPLES / "pool.jsonl", out, config=config, runtime=Runtime(env={}), session_dir=None,
                            skip_invalid=False, methods=("exact", "minhash", "semantic"), decontam=(), ifd=False,
                            ifd_model=None, embed=True, clusters=None, embedder_factory=factory)
        return {k: v for k, v in report.items() if k not in ("seconds", "embed_seconds", "out", "stages")}

    local = score(tmp_path / "local.jsonl", None)
    try:
        on_ray_report = score(tmp_path / "ray.jsonl", on_ray)
    finally:
        for embedder in made:
            embedder.close()
    assert len(made) == 1 and made[0].encoded == local["embedded"] > 0  # every text went to the actors
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert on_ray_report == local and local["clusters"] > 1
