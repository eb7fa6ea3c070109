"""The engine's passes on Ray (`assay score --engine ray`): each batch job a Ray Data `map_batches` task.

`RayExecutor` keeps executor.py's protocol: `map(fn, jobs)` yields `fn(job)` in job order, so a pass
runs unchanged here and on the local executor. Jobs go to Ray Data as one row each (pickled, so a
job comes back to `fn` exactly as it was sent, whatever Arrow would make of it) and run as
stateless `map_batches` tasks of one row. Ray Data schedules them over the cluster's CPUs, keeps
the results in job order (`preserve_order`) and holds back the producer when the consumer lags.

A task whose worker dies (killed, out of memory, its node lost) is retried up to `MAX_RETRIES`
times; an exception raised by `fn` is not retried: it is the job's error, re-raised here as
itself (an InputError stays an InputError) at its turn, as the local executor does.

Ray is imported here only, when an executor is made: `assay --help` never loads it.
"""

from __future__ import annotations

import pickle
import socket
import warnings
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from assay.core.errors import ConfigError

MAX_RETRIES = 3
# Jobs handed to Ray Data at once: a window bounds what the driver holds of a lazy job stream
# (a job may carry records), and is large enough that the drain between windows costs little.
WINDOW_PER_WORKER = 4
MIN_WINDOW = 16
INSTALL_HINT = "the Ray engine needs Ray: pip install 'assay[ray]'"


def import_ray() -> Any:
    """The `ray` module, or a ConfigError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the extra is ray[data]: a bare `ray` lacks it)
    except ImportError as error:
        raise ConfigError(f"{INSTALL_HINT} ({error})") from error
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast, with one clear line, when HOST:PORT does not answer (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray-address must be 'auto' or HOST:PORT, not {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {error} (is `ray start --head` running "
                          "there, and is the port open?)") from error


class RayExecutor:
    """Runs the engine's jobs on Ray: a cluster at `address` ("auto" or HOST:PORT), else a local Ray of `num_cpus`.

    A Ray already initialised in this process (a test's, a notebook's) is used as it is and left running.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        ray = import_ray()
        self._owned = False
        if not ray.is_initialized():
            if address and address != "auto":
                check_reachable(address)
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    # "local": a new Ray of our own, even where another one runs on this machine.
                    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            except ConnectionError as error:  # "auto" with no cluster running on this machine
                raise ConfigError(f"cannot connect to a Ray cluster at {address}: {error}") from error
            self._owned = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        _quiet_data_context()

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """`fn(item)` for each item, in item order, as Ray Data tasks; a job's exception is raised here, as itself."""
        iterator = iter(items)
        window = max(MIN_WINDOW, WINDOW_PER_WORKER * self.workers)
        while chunk := list(islice(iterator, window)):
            yield from _run_window(fn, chunk)

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


def _apply(batch: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, list[bytes]]:
    """The map_batches task: `fn` over the batch's pickled jobs, each result (or the job's error) pickled back."""
    results, errors = [], []
    for job in batch["job"]:
        try:
            results.append(_dumps(fn(pickle.loads(job))))
            errors.append(b"")
        except Exception as error:  # not swallowed: carried to the driver and raised there, at the job's turn
            results.append(b"")
            errors.append(_pickled_error(error))
    return {"result": results, "error": errors}


def _run_window(fn: Callable[[Any], Any], jobs: list[Any]) -> Iterator[Any]:
    import ray.data

    rows = [{"job": _dumps(job)} for job in jobs]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))  # one block, so one task, per job
    with warnings.catch_warnings():
        # Ray 2.60 marks task options passed through map_batches as deprecated but offers no other
        # way to bound retries for its tasks; its own default retries a dead worker forever.
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = dataset.map_batches(_apply, fn_args=(fn,), batch_size=1, num_cpus=1, max_retries=MAX_RETRIES,
                                      retry_exceptions=False)
    for row in dataset.iter_rows():
        if row["error"]:
            raise pickle.loads(row["error"])
        yield pickle.loads(row["result"])


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _pickled_error(error: Exception) -> bytes:
    """The job's exception, pickled with its worker traceback as a note.

    Ray Data reports a task's exception as text inside its own UserCodeException, so the error
    travels as a result instead and the driver raises it as itself (an InputError stays one, and
    the CLI prints its one line). One that cannot be pickled travels as a RuntimeError naming it.
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


def _quiet_data_context() -> None:
    """Results in job order, and no progress bars or per-dataset banners on the user's terminal."""
    import logging

    from ray.data import DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # It warns, once per run, that the progress bars it was asked not to draw are not drawn.
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
