"""The writer's side of the Chroma feed: writes go out without waiting, reads wait for them.

`Store.add` and the metadata setters hand ids to `feed` after their SQLite commit and return;
the index helper (`index_server.py`) applies them in bulk, in order. Every read of the index
(`call`) is answered after all earlier writes, so a query sees what was added before it, and
a write that failed there is raised here, at the next call or at `close`, never swallowed.

With a `ChromaPlace` the helper is a process: Chroma's embedded bindings hold the GIL while
they write (measured: a 5,000-vector upsert left the other threads 0.7 % of their speed for
its 3.5 s), so only another process takes the writes off the pipeline's path. A live client
(e.g. one a test or bench built) is served by a thread in this process instead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from assay.core.errors import AssayError
from assay.session.chroma_place import ChromaPlace


class IndexFeedError(AssayError):
    """A write to the vector index failed, or its helper died; the session's next open re-feeds it."""


class IndexFeed:
    """Ordered, asynchronous writes and synchronous calls to one Chroma collection."""

    def __init__(self, target: Any, name: str, db_path: str, vector_dir: str) -> None:
        self.target, self.name, self.db_path, self.vector_dir = target, name, db_path, vector_dir
        self._started = False
        self._lock = threading.Lock()  # one call at a time waits for its answer
        self._broken = False  # a failure was raised: later writes wait for reconcile, later calls raise
        self._closed = False
        self.process: Any = None  # the helper process, when there is one
        self._submit: Callable[[tuple[Any, ...]], None] = lambda request: None
        self._answer: Callable[[], tuple[str, Any]] = lambda: ("ok", None)

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        from assay.session import index_server

        if isinstance(self.target, ChromaPlace):
            import multiprocessing
            import os

            context = multiprocessing.get_context("spawn")  # the writer may hold CUDA and thread pools
            requests_out, requests_in = context.Pipe(duplex=False)[::-1]
            replies_in, replies_out = context.Pipe(duplex=False)
            self.process = context.Process(target=index_server.serve_process, name="assay-index", daemon=True,
                                           args=(requests_in, replies_out, self.target, self.name, self.db_path,
                                                 self.vector_dir, os.getpid()))
            self.process.start()
            requests_in.close()
            replies_out.close()
            outbox: queue.Queue[tuple[Any, ...] | None] = queue.Queue()

            def send() -> None:  # a large request blocks on the pipe while the helper writes: not the caller
                while (request := outbox.get()) is not None:
                    try:
                        requests_out.send(request)
                    except OSError:
                        return  # the helper is gone: the next answer's EOF says so

            threading.Thread(target=send, name="assay-index-send", daemon=True).start()
            self._submit, self._answer = outbox.put, replies_in.recv
            self._stop_sender = lambda: outbox.put(None)
        else:
            channel = _QueueChannel()
            collection = (lambda: index_server.open_collection(self.target, self.name))
            threading.Thread(target=index_server.serve, name="assay-index", daemon=True,
                             args=(channel.server, collection, self.db_path, self.vector_dir)).start()
            self._submit, self._answer = channel.requests.put, channel.replies.get
            self._stop_sender = lambda: None

    @property
    def failed(self) -> bool:
        """Whether a failure was raised and reconcile has not repaired the index since."""
        return self._broken

    def feed(self, request: tuple[Any, ...]) -> None:
        """Queue a write ("upsert", ids) or ("update", changes); returns at once."""
        if self._closed:
            raise IndexFeedError("the vector index was closed with its session")
        if self._broken:
            return  # the first failure is raised at the next call; the stale mark keeps this write for reconcile
        self._start()
        self._submit(request)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A collection method's result, once every earlier write is applied."""
        return self._ask(("call", method, args, kwargs))

    def sync(self) -> None:
        """Wait until every write queued so far is in the index (raises a failed one)."""
        if self._started or self._broken:
            self._ask(("call", "sync", (), {}))

    def reset(self) -> None:
        """Forget a failure once reconcile has repaired the index (a dead helper is replaced)."""
        with self._lock:
            self._broken = False
            if self.process is not None and not self.process.is_alive():
                self._stop_sender()
                self._started, self.process = False, None
            elif self._started:
                self._submit(("reset",))
                self._answer()

    def _ask(self, request: tuple[Any, ...]) -> Any:
        with self._lock:
            if self._closed:
                raise IndexFeedError("the vector index was closed with its session")
            if self._broken:
                raise IndexFeedError("the vector index failed earlier in this session (see the error raised then); "
                                     "reopen the session to rebuild it")
            self._start()
            self._submit(request)
            try:
                status, value = self._answer()
            except (EOFError, OSError):
                code = self.process.exitcode if self.process is not None else None
                status, value = "error", f"the vector index's helper process died (exit code {code})"
            if status == "error":
                self._broken = True
                raise IndexFeedError(value)
            return value

    def close(self) -> None:
        """Let the helper apply what is queued, then stop it; raises a failure not raised before."""
        if not self._started or self._closed:
            self._closed = True
            return
        pending: str | None = None
        with self._lock:
            self._submit(("close",))  # the helper applies what is queued, answers, and stops
            try:
                status, value = self._answer()
                pending = value if status == "error" else None
            except (EOFError, OSError):
                pending = "the vector index's helper process died before it finished"
            if self._broken:
                pending = None  # raised once already
            self._stop_sender()
            if self.process is not None:
                self.process.join(timeout=30)
                if self.process.is_alive():
                    self.process.kill()
            self._closed = True
        if pending is not None:
            raise IndexFeedError(pending)


class _QueueChannel:
    """Queues standing in for the pipes when the helper is a thread."""

    def __init__(self) -> None:
        self.requests: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.replies: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.server = _ServerEnd(self)


class _ServerEnd:
    def __init__(self, channel: _QueueChannel) -> None:
        self._channel = channel

    def recv(self) -> tuple[Any, ...]:
        return self._channel.requests.get()

    def poll(self) -> bool:
        return not self._channel.requests.empty()

    def send(self, reply: tuple[str, Any]) -> None:
        self._channel.replies.put(reply)


class CollectionProxy:
    """Stands for the Chroma collection: each method call runs in the helper, after queued writes."""

    def __init__(self, feed: IndexFeed) -> None:
        self._feed = feed

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args, **kwargs: self._feed.call(method, *args, **kwargs)
