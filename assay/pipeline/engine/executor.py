"""Where the engine's batch jobs run: inline, in local worker processes, or (engine/ray_executor.py) on Ray.

Every pass of the streaming engine is `executor.map(fn, jobs)`: `fn` is a module-level function
and each job a picklable value, so the same pass runs unchanged on any executor. Results come
back in job order, and at most about `2 * workers` jobs are in flight, so a pass over a million
samples never holds more than a few batches at once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol


class Executor(Protocol):
    """Runs a module-level function over picklable items; yields the results in item order."""

    workers: int

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """`fn(item)` for each item, in item order, with at most about `2 * workers` in flight."""
        ...

    def close(self) -> None:
        """Release the workers; the engine calls it once, after its last pass."""
        ...


def default_workers() -> int:
    """One worker per CPU core (`--workers` overrides it)."""
    return os.cpu_count() or 1


class LocalExecutor:
    """Inline when `workers == 1` (no processes, no pickling); else a pool of worker processes.

    Workers start by `forkserver` (or `spawn` where there is none), never `fork`: the parent may
    hold threads and open SQLite handles that a forked child must not inherit. They import assay
    lazily, when their first job names a function.
    """

    def __init__(self, workers: int | None = None, *, preload: Sequence[str] = ()) -> None:
        self.workers = max(1, workers if workers is not None else default_workers())
        self.preload = tuple(preload)  # modules the fork server imports once, so each worker starts with them
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """`fn(item)` for each item, in order; a job's exception is raised here, at its turn."""
        if self.workers == 1:
            for item in items:
                yield fn(item)
            return
        pool = self._start()
        pending: deque[Future[Any]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # the caller stopped early or a job failed: drop what has not started
                future.cancel()

    def close(self) -> None:
        """Stop the worker processes (a later `map` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            if self.preload and context.get_start_method() == "forkserver":
                context.set_forkserver_preload(list(self.preload))
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._pool
