"""The engine's passes on Ray (`assay score --engine ray`): each batch job a Ray task.

`RayExecutor` keeps executor.py's protocol: `map(fn, jobs)` yields `fn(job)` in job order, so a pass
runs unchanged here and on the local executor. Each job is one stateless task of one CPU, spread
over the cluster's nodes; jobs are submitted as the results are taken, at most `2 * workers` in
flight, as the local executor does, so a pass over a million samples holds a few batches at once and
no CPU waits for a window of others to drain.

Plain tasks, not Ray Data's `map_batches` (which this module used first): a job is a whole batch
already, so Ray Data had one row per block to schedule and nothing to fuse, and it cost more than
the work on one machine. On a fresh cluster it starts three detached actors of its own (stats,
autoscaling coordinator, usage), each a worker process importing Ray Data, about 6 CPU seconds and
8-10 s before the first batch ran; every worker that ran a `map_batches` task imported Ray Data
(0.8 CPU s); and each window of jobs was pickled into a dataset, run, and drained before the next
began. evals/README.md ("The Ray engine") has the figures.

A task whose worker dies (killed, out of memory, its node lost) is retried up to `MAX_RETRIES`
times; an exception raised by `fn` is not retried: it is the job's error, re-raised here as
itself (an InputError stays an InputError) at its turn, as the local executor does.

Ray is imported here only, when an executor is made: `assay --help` never loads it.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from assay.llm.ray_transport import connect, import_ray

MAX_RETRIES = 3


class RayExecutor:
    """Runs the engine's jobs on Ray: a cluster at `address` ("auto" or HOST:PORT), else a local Ray of `num_cpus`.

    A Ray already initialised in this process (a test's, a notebook's) is used as it is and left running.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        ray = import_ray()
        self._owned = False
        if not ray.is_initialized():
            connect(ray, address, num_cpus)
            self._owned = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # SPREAD, as Ray Data placed its tasks: batches go round the nodes rather than filling the driver's first.
        self._task = ray.remote(_run_job).options(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False,
                                                  scheduling_strategy="SPREAD")

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """`fn(item)` for each item, in item order, as Ray tasks; a job's exception is raised here, as itself."""
        import ray

        pending: deque[Any] = deque()
        try:
            for item in items:
                pending.append(self._task.remote(fn, item))
                if len(pending) >= 2 * self.workers:
                    yield _result(ray.get(pending.popleft()))
            while pending:
                yield _result(ray.get(pending.popleft()))
        finally:
            for ref in pending:  # the caller stopped early or a job failed: the rest is not wanted
                ray.cancel(ref)

    def candidate_groups(self, parts: Any, batches: int, options: Any) -> tuple[int, Any, Any]:
        """The global dedup's candidate groups, the keys hash-shuffled over Ray tasks (engine/ray_groups.py)."""
        from assay.pipeline.engine.ray_groups import candidate_groups

        return candidate_groups(parts, batches, options, partitions=2 * self.workers)

    def close(self) -> None:
        """Shut Ray down if this executor started or connected it; a Ray found running is left alone."""
        if self._owned:
            import ray

            ray.shutdown()
            self._owned = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_job(fn: Callable[[Any], Any], job: Any) -> tuple[Any, bytes | None]:
    """The task: (`fn(job)`, None), or (None, the job's error pickled) when `fn` raised."""
    try:
        return fn(job), None
    except Exception as error:  # not swallowed: carried to the driver and raised there, at the job's turn
        return None, _pickled_error(error)


def _result(outcome: tuple[Any, bytes | None]) -> Any:
    result, error = outcome
    if error is not None:
        raise pickle.loads(error)
    return result


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _pickled_error(error: Exception) -> bytes:
    """The job's exception, pickled with its worker traceback as a note.

    Ray reports a task's exception wrapped in its own RayTaskError, its text holding the worker's
    traceback, so the error travels as a result instead and the driver raises it as itself (an
    InputError stays one, and the CLI prints its one line). One that cannot be pickled travels as
    a RuntimeError naming it.
    """
    import traceback

    error.add_note("raised in a Ray worker:\n" + "".join(traceback.format_exception(error)))
    try:
        data = _dumps(error)
        pickle.loads(data)
        return data
    except Exception:  # the exception's class cannot cross processes: keep its type name, text and traceback
        stand_in = RuntimeError(f"{type(error).__module__}.{type(error).__qualname__}: {error}")
        stand_in.add_note("".join(traceback.format_exception(error)))
        return _dumps(stand_in)
