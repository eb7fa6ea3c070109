"""Model calls sent from Ray actors (`[llm] engine = "ray"`, `--engine ray`).

Only the transport moves. The gateway stays in this (the driver) process: the response cache
is checked, the budget claimed, retries made and every attempt traced here, exactly as with
the local engine, so a session's ids, verdicts, trace rows, cache entries and spend do not
depend on the engine, and a resumed session never pays twice. Each actor builds one litellm
transport from picklable settings (no key: provider keys come from the environment of the
Ray nodes, so none is ever in a task, an actor name or the trace) and, as an async actor,
has many calls in flight at once.

A call goes to the actor with the fewest calls in flight. Actors are never restarted by Ray
and their calls never retried by Ray (either would send a request again unseen): an actor
that dies mid-call (killed, out of memory, its node lost) makes the call a TransientError,
which the gateway records as a failed attempt and sends again, to a fresh actor put in the
dead one's place. A TransientError or FatalError raised inside an actor reaches the gateway
as itself, Retry-After included. The embedded local model stays in this process.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from assay.core.errors import ConfigError
from assay.llm.transport import Completion, CompletionRequest, FatalError, LiteLLMTransport, TransientError

INSTALL_HINT = "the Ray engine (--engine ray) needs Ray: pip install 'assay[ray]'"
# How much longer than a request's own timeout the driver waits for its actor: litellm's
# timeout answers first; this only catches an actor gone without a word (a partitioned node).
GRACE_S = 30.0


@dataclass(frozen=True)
class TransportSettings:
    """What an actor builds its litellm transport from: picklable, and holding no key."""

    api_base: str | None = None
    structured_output: str = "auto"

    def build(self) -> LiteLLMTransport:
        """The litellm transport these settings describe."""
        return LiteLLMTransport(api_base=self.api_base, structured_output=self.structured_output)


class CallActor:
    """The body of one Ray actor: one litellm transport, serving many calls at once (its methods are async)."""

    def __init__(self, settings: TransportSettings) -> None:
        self.transport = settings.build()

    async def complete(self, request: CompletionRequest) -> tuple[Any, ...]:
        """('ok', Completion), or the error to raise on the driver: ('transient', message, retry_after), ('fatal', message).

        Errors come back as values, not raised: Ray would wrap a raised one in its own type."""
        try:
            return ("ok", await self.transport(request))
        except TransientError as err:
            return ("transient", str(err), err.retry_after)
        except FatalError as err:
            return ("fatal", str(err))

    async def node_id(self) -> str:
        """The Ray node this actor runs on."""
        import ray

        return str(ray.get_runtime_context().get_node_id())


class RayTransport:
    """A `Transport` that sends each request from a pool of `actors` async Ray actors.

    `address`: "auto" or HOST:PORT of a running cluster; None starts a local Ray. A Ray already
    initialised in this process (a test's, a notebook's) is used as it is. The pool starts on
    the first call, so building the transport (e.g. to look up prices) starts nothing.
    """

    api_key = None  # the gateway redacts a transport's key; these actors hold none

    def __init__(self, settings: TransportSettings, *, actors: int = 2, max_concurrency: int = 8,
                 address: str | None = None) -> None:
        import_ray()
        self.settings = settings
        self.size = actors
        self.max_concurrency = max_concurrency
        self.address = address
        self.local = settings.build()  # the embedded model, and prices: both answered in this process
        self.actors: list[Any] = []
        self.in_flight: list[int] = []
        self._remote: Any = None

    def price_of(self, model: str) -> Any:
        """The price litellm knows for `model` (looked up here; it is the same table the actors use)."""
        return self.local.price_of(model)

    async def __call__(self, request: CompletionRequest) -> Completion:
        from assay.llm.local_model import LOCAL_MODEL_NAME

        if request.model == LOCAL_MODEL_NAME:  # a small CPU model: not worth shipping to actors
            return await self.local(request)
        ray = self._start()
        slot = min(range(self.size), key=self.in_flight.__getitem__)
        actor = self.actors[slot]
        self.in_flight[slot] += 1
        ref = actor.complete.remote(request)
        try:
            outcome = await asyncio.wait_for(asyncio.wrap_future(ref.future()), request.timeout_s + GRACE_S)
        except asyncio.CancelledError:  # the gateway gave up on this call: stop it in the actor too
            ray.cancel(ref)
            raise
        except TimeoutError:  # litellm's own timeout did not answer either: the actor is stuck or gone
            ray.cancel(ref)
            self._replace(slot, actor)
            raise TransientError(f"no answer from its Ray actor within {request.timeout_s + GRACE_S:g} s") from None
        except lost_errors(ray) as err:
            self._replace(slot, actor)
            raise TransientError(f"its Ray actor was lost mid-call ({type(err).__name__}); it is sent again") from err
        finally:
            self.in_flight[slot] -= 1
        if outcome[0] == "transient":
            raise TransientError(outcome[1], retry_after=outcome[2])
        if outcome[0] == "fatal":
            raise FatalError(outcome[1])
        return outcome[1]

    def _start(self) -> Any:
        """Ray, with the pool started (and Ray connected) on first use."""
        ray = import_ray()
        if not self.actors:
            if not ray.is_initialized():
                connect(ray, self.address)
            # num_cpus=0: an actor waits on the network, it does not compute.
            self._remote = ray.remote(num_cpus=0, max_concurrency=self.max_concurrency, max_restarts=0,
                                      max_task_retries=0)(CallActor)
            self.actors = [self._new_actor(ray, slot) for slot in range(self.size)]
            self.in_flight = [0] * self.size
        return ray

    def _new_actor(self, ray: Any, slot: int) -> Any:
        """An actor for `slot`, on the live nodes in turn. Ray's SPREAD, or a soft node affinity, often leaves
        them all on one node; a node that dies first leaves an actor that never starts: its calls fail as lost,
        and it is replaced on the nodes then alive."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])
        where = NodeAffinitySchedulingStrategy(nodes[slot % len(nodes)], soft=False)
        return self._remote.options(scheduling_strategy=where).remote(self.settings)

    def _replace(self, slot: int, dead: Any) -> None:
        """A fresh actor in a lost one's place (once, however many of its calls report the loss)."""
        if self.actors[slot] is dead:
            import ray

            ray.kill(dead, no_restart=True)  # one merely unreachable must not come back and serve again
            self.actors[slot] = self._new_actor(ray, slot)


def lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a call whose actor, worker, node or result was lost: worth sending again."""
    e = ray.exceptions
    return (e.RayActorError, e.ActorUnschedulableError, e.WorkerCrashedError, e.NodeDiedError, e.ObjectLostError,
            e.OutOfMemoryError, e.LocalRayletDiedError)


def import_ray() -> Any:
    """The `ray` module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ConfigError(f"{INSTALL_HINT} ({err})") from err
    return ray


def check_address(address: str | None, timeout: float = 5.0) -> None:
    """Fail fast, with one line, when HOST:PORT does not answer (Ray itself retries for minutes)."""
    if address is None or address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray-address must be 'auto' or HOST:PORT, not {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {err} (is `ray start --head` running there, "
                          "and is the port open?)") from err


def connect(ray: Any, address: str | None, num_cpus: int | None = None) -> None:
    """Join the cluster at `address`, or start a local Ray of `num_cpus` (all: None) when there is none."""
    check_address(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # "local": a new Ray of our own, not any cluster it may find on this machine
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    except ConnectionError as err:  # "auto" with no cluster running on this machine
        raise ConfigError(f"cannot connect to a Ray cluster at {address}: {err}") from err
