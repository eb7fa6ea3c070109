"""Embeddings on a pool of Ray actors (`--engine ray`): each actor holds one loaded encoder, on a GPU where there is one.

`RayEmbedder` is an `Embedder`: the shared embedding cache (session/embedding_cache.py) stays in
this (the driver) process and answers first, so a cached text never reaches Ray; only the rest
go to the actors, through `_encode`. Those texts are sorted by length (as the local encoder does,
so a batch pads little), cut into batches of `batch_texts` and handed to the least busy actor,
at most `IN_FLIGHT_PER_ACTOR` batches per actor at a time; the vectors land in their rows, so
the result is in input order whatever order the batches finish in. Each actor runs the same
encoder the local engine runs (`Embedder` with no cache), so the vectors are the local engine's.

Resources: `gpus` per actor (Ray's `num_gpus`; default 1 when the cluster has GPUs, else 0, the
actors then running on CPUs), and `actors` of them (default: as many as the cluster's GPUs
hold, else one per node). An actor on CPUs reserves its node's CPUs, shared among the node's
actors, so its torch threads use them (Ray sets a worker's thread count from its reservation).

Faults: actors are never restarted by Ray. A batch whose actor dies (killed, out of memory, its
node lost), and any other batch that actor held, goes to the least busy live actor, a fresh one
is put in the dead one's place, and a batch is tried at most `MAX_ATTEMPTS` times. An error
raised by the encoder itself is raised here, as itself, and not retried.

Ray is imported only when it is needed (an encode, or the precision with `gpus` unset), never
at CLI import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from assay.core.config import Config, StoreSettings
from assay.core.errors import AssayError
from assay.session.embedding_cache import open_cache
from assay.llm.ray_transport import connect, import_ray, lost_errors
from assay.session.embeddings import Embedder, expected_precision

IN_FLIGHT_PER_ACTOR = 2
MAX_ATTEMPTS = 4  # the first try and 3 more, as the Ray executor retries a lost task
# Texts per batch sent to an actor: large, so the Ray round trip is nothing next to the encoding, and
# a multiple of the fast encoder's tokenization window (encoder_fast.py: 8192 texts on CUDA, 2048 on
# CPU). The texts are sorted as that encoder sorts them, so an actor cuts the very windows, and pads
# the very batches, the local encoder would: on the same device the vectors are equal, bit for bit.
GPU_BATCH_TEXTS = 16384
CPU_BATCH_TEXTS = 2048

BatchHook = Callable[[int, Sequence[str]], None]


class EmbedActor:
    """The body of one Ray actor: one encoder, loaded once (the local engine's `Embedder`, without a cache)."""

    def __init__(self, model: str, device: str | None, batch_size: int, precision: str,
                 hook: BatchHook | None = None) -> None:
        self.embedder = Embedder(model, device=device, batch_size=batch_size, precision=precision)
        self.hook = hook

    def encode(self, index: int, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors of one batch (batch `index`, for the hook), in its order."""
        if self.hook is not None:
            self.hook(index, texts)
        return self.embedder.encode(texts)

    def dimension(self) -> int:
        """Length of each vector."""
        return self.embedder.dimension

    def where(self) -> tuple[str, str]:
        """The Ray node this actor runs on, and the device its encoder chose (e.g. cpu, cuda:0)."""
        import ray

        model = self.embedder._load()
        device = str(getattr(model, "device", self.embedder.device))
        return str(ray.get_runtime_context().get_node_id()), device


class RayEmbedder(Embedder):
    """An `Embedder` whose model runs on `actors` Ray actors of `gpus` GPUs each (None: chosen from the cluster).

    `address`: "auto" or HOST:PORT of a running cluster; None starts a local Ray (a Ray already
    initialised in this process is used as it is). Nothing starts until a text must be encoded.
    `hook` runs in the actor before each batch (tests use it to kill one mid-batch).
    """

    def __init__(self, model: str | None = None, *, device: str | None = None, batch_size: int = 256,
                 cache: Any = None, address: str | None = None, actors: int | None = None,
                 gpus: float | None = None, batch_texts: int | None = None, hook: BatchHook | None = None) -> None:
        super().__init__(model, device=device, batch_size=batch_size, cache=cache)
        if actors is not None and actors < 1:
            raise AssayError(f"embedding actors must be 1 or more, not {actors}")
        if gpus is not None and gpus < 0:
            raise AssayError(f"GPUs per embedding actor must be 0 or more, not {gpus}")
        self.address = address
        self.size = actors
        self.gpus = gpus
        self.batch_texts = batch_texts
        self.hook = hook
        self.pool: list[Any] = []
        self.retried = 0  # batches sent again after their actor was lost
        self.peak_in_flight = 0
        self._remote: Any = None
        self._dimension: int | None = None

    @property
    def precision(self) -> str:
        """The dtype the actors run the model in (fp16 on GPUs, fp32 on CPUs): part of the cache key, so known
        before any actor starts (with `gpus` left to the cluster, by asking Ray whether it has GPUs)."""
        if self._precision is None:
            if self.gpus is None:
                self._connect()
            self._precision = expected_precision(self.model_name, (self.device or "cuda") if self.gpus else "cpu")
        return self._precision

    @property
    def dimension(self) -> int:
        """Length of each vector (asked of an actor once)."""
        if self._dimension is None:
            ray = self._start()
            self._dimension = int(ray.get(self.pool[0].dimension.remote()))
        return self._dimension

    def close(self) -> None:
        """Stop the actors (Ray itself is left running, as the Ray transport leaves it)."""
        if self.pool:
            import ray

            for actor in self.pool:
                ray.kill(actor, no_restart=True)
            self.pool = []

    def _encode(self, texts: Sequence[str], on_batch: Callable[[int], None] | None) -> np.ndarray:
        """The texts' vectors from the actor pool, in input order (the cache was asked before this)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ray = self._start()
        self.encoded += len(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = self.batch_texts or (GPU_BATCH_TEXTS if self.gpus else CPU_BATCH_TEXTS)
        batches = [order[start:start + step] for start in range(0, len(texts), step)]
        vectors: np.ndarray | None = None
        pending: dict[Any, tuple[int, int, Any]] = {}  # ref -> (batch, slot, the actor sent to)
        attempts = [0] * len(batches)
        waiting = list(range(len(batches)))[::-1]  # popped from the end: batch 0 first
        busy = [0] * len(self.pool)
        lost = lost_errors(ray)
        try:
            while waiting or pending:
                while waiting and len(pending) < IN_FLIGHT_PER_ACTOR * len(self.pool):
                    index = waiting.pop()
                    slot = min(range(len(self.pool)), key=busy.__getitem__)
                    attempts[index] += 1
                    actor = self.pool[slot]
                    ref = actor.encode.remote(index, [texts[i] for i in batches[index]])
                    pending[ref] = (index, slot, actor)
                    busy[slot] += 1
                self.peak_in_flight = max(self.peak_in_flight, len(pending))
                done, _ = ray.wait(list(pending), num_returns=1)
                index, slot, actor = pending.pop(done[0])
                busy[slot] -= 1
                try:
                    block = ray.get(done[0])
                except lost as error:
                    if attempts[index] >= MAX_ATTEMPTS:
                        raise AssayError(f"embedding batch {index} lost its Ray actor {attempts[index]} times; "
                                         f"last: {type(error).__name__}: {error}") from error
                    if self.pool[slot] is actor:  # once, however many of its batches report the loss
                        self._replace(ray, slot)
                    self.retried += 1
                    waiting.append(index)  # next out: to the least busy live actor
                    continue
                # The encoder's own error is not caught: Ray raises it as an instance of its own class.
                if vectors is None:
                    vectors = np.empty((len(texts), block.shape[1]), dtype=np.float32)
                vectors[batches[index]] = block
                if on_batch is not None:
                    on_batch(len(batches[index]))
        finally:
            for ref in pending:  # an error stops the encode: drop the batches still out
                ray.cancel(ref)
        assert vectors is not None
        return vectors

    def _connect(self) -> Any:
        """Ray, connected (a local one started when there is no address), and the pool's size settled."""

        ray = import_ray()
        if not ray.is_initialized():
            connect(ray, self.address)
        if self.gpus is None or self.size is None:
            resources = ray.cluster_resources()
            if self.gpus is None:
                self.gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
            if self.size is None:
                self.size = int(resources.get("GPU", 0) // self.gpus) if self.gpus else len(_nodes(ray, 0.0))
                if self.size < 1:
                    raise AssayError(f"the Ray cluster has {resources.get('GPU', 0):g} GPUs: not enough for one "
                                     f"embedding actor of {self.gpus:g}")
        return ray

    def _start(self) -> Any:
        """Ray, with the pool started (and Ray connected) on first use."""
        ray = self._connect()
        if not self.pool:
            self._remote = ray.remote(max_restarts=0, max_task_retries=0)(EmbedActor)
            self.pool = [self._new_actor(ray, slot) for slot in range(self.size)]
        return ray

    def _new_actor(self, ray: Any, slot: int) -> Any:
        """An actor for `slot`. On GPUs Ray places it where its `num_gpus` are free (and one CPU). On CPUs it goes
        to the live nodes in turn (Ray would often pack them all on one; see ray_transport's `_new_actor`) and
        reserves its share of its node's CPUs, which also sets its torch threads."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = _nodes(ray, float(self.gpus or 0))
        if not nodes:
            raise AssayError(f"no live Ray node has {self.gpus:g} GPUs for an embedding actor")
        args = (self.model_name, self.device if self.gpus else "cpu", self.batch_size, self.precision, self.hook)
        if self.gpus:
            return self._remote.options(num_cpus=1, num_gpus=self.gpus).remote(*args)
        node_id, cpus = nodes[slot % len(nodes)]
        sharing = len(range(slot % len(nodes), self.size or 1, len(nodes)))  # the slots this node holds
        where = NodeAffinitySchedulingStrategy(node_id, soft=False)
        return self._remote.options(num_cpus=max(1, int(cpus // sharing)), num_gpus=0,
                                    scheduling_strategy=where).remote(*args)

    def _replace(self, ray: Any, slot: int) -> None:
        """A fresh actor in a lost one's place."""
        ray.kill(self.pool[slot], no_restart=True)  # one merely unreachable must not come back and serve again
        self.pool[slot] = self._new_actor(ray, slot)


def _nodes(ray: Any, gpus: float) -> list[tuple[str, float]]:
    """(node id, CPUs) of the live nodes with at least `gpus` GPUs, in a fixed order."""
    alive = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU", 0) >= gpus]
    return sorted((n["NodeID"], float(n["Resources"].get("CPU", 1))) for n in alive)


def ray_embedder_for(settings: StoreSettings, env: Mapping[str, str], address: str | None = None) -> RayEmbedder:
    """The recipe's embedder on Ray actors (`[store] embedding_ray_actors`, `embedding_ray_gpus`), the shared
    cache in front of it, as `embedder_for` builds the local one."""
    return RayEmbedder(settings.embedding_model, device=settings.device, batch_size=settings.embedding_batch_size,
                       cache=open_cache(settings.embedding_cache, env), address=address,
                       actors=settings.embedding_ray_actors, gpus=settings.embedding_ray_gpus)


def engine_embedder(config: Config) -> Callable[[StoreSettings, Mapping[str, str]], RayEmbedder] | None:
    """The session's embedder factory for its recipe: Ray actors when its engine is ray (at `[llm] ray_address`),
    None (the local embedder) otherwise."""
    if config.llm.engine != "ray":
        return None
    address = config.llm.ray_address
    return lambda settings, env: ray_embedder_for(settings, env, address)
