"""The Ray engine of `assay score` (issue 14, items 4 and 5): the same output file and summary as the local
engine, on a local Ray and on a simulated two-node cluster, and a worker killed mid-pass costs only its job.

One Ray runtime per parametrisation of the module fixture (each takes 10-30 s to start here); the
tests that need none run in the fast suite.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assay.core.config import Config
from assay.core.errors import ConfigError, InputError
from assay.pipeline.engine.executor import LocalExecutor
from assay.pipeline.engine.local import EngineSettings, score_streaming
from assay.pipeline.engine.parts import Parts, default_work_dir
from assay.pipeline.engine.score import score_file
from assay.pipeline.screen.scoring import ScoreOptions
from assay.session.session import Runtime
from tests.conftest import EXAMPLES
from tests.ray_env import ray_runtime  # noqa: F401  (the fixture)
from tests.test_engine_local import comparable, planted_pool

QUICKSTART = EXAMPLES / "quickstart.jsonl"
METHODS = ("exact", "minhash")


def test_an_input_error_crosses_a_process_boundary_as_itself() -> None:
    # A worker's InputError reaches the CLI's one-line handler only if it unpickles (it did not: its
    # __init__ takes more than the message).
    error = pickle.loads(pickle.dumps(InputError("pool.jsonl", 3, "not JSON", field="output", unit="row")))
    assert isinstance(error, InputError)
    assert (error.path, error.line, error.field, str(error)) == ("pool.jsonl", 3, "output",
                                                                  "pool.jsonl:row 3: field 'output': not JSON")


def test_an_unreachable_cluster_is_one_clear_line() -> None:
    from assay.llm.ray_transport import check_address
    from assay.pipeline.engine.ray_executor import RayExecutor

    with pytest.raises(ConfigError, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        check_address("127.0.0.1:9", timeout=2)  # the discard port: nothing listens there
    with pytest.raises(ConfigError, match="'auto' or HOST:PORT"):
        RayExecutor(address="headnode")


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.pipeline.engine.ray_executor import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as it does where Ray is not installed
    with pytest.raises(ConfigError, match=r"pip install 'assay\[ray\]'"):
        RayExecutor()


@pytest.mark.parametrize(("flags", "message"), [
    (["--no-embed", "--session", "never-made", "--engine", "ray"],
     "--engine ray runs the streaming engine (--no-embed, without --session) or embeds on Ray actors"),
    (["--no-embed", "--ray-address", "auto"], "--ray-address names the cluster of --engine ray"),
    (["--no-embed", "--engine", "ray", "--ray-address", "auto", "--workers", "2"], "drop one of the two"),
    (["--no-embed", "--engine", "ray", "--ray-address", "127.0.0.1:9"], "cannot reach the Ray cluster at 127.0.0.1:9"),
])
def test_score_checks_its_ray_flags_before_any_work(tmp_path: Path, flags: list[str], message: str,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from assay.cli.app import app
    from assay.cli.exit_codes import run_with_exit_codes

    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    out = tmp_path / "scored.jsonl"
    with pytest.raises(SystemExit) as stopped:  # as `assay` exits: one line, code 2, no traceback
        run_with_exit_codes(app, ["score", str(QUICKSTART), "--out", str(out), *flags])
    assert stopped.value.code == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def score(source: Path, out: Path, tmp: Path, executor: Any, batch_size: int) -> dict[str, Any]:
    report = score_file(source, out, config=Config(), runtime=Runtime(env={"ASSAY_HOME": str(tmp / "home")}),
                        session_dir=None, skip_invalid=False, methods=METHODS, decontam=(), ifd=False, ifd_model=None,
                        embed=False, clusters=None, workers=1, batch_size=batch_size, executor=executor)
    return dict(report)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """A 600-record planted pool and the local engine's output and summary for it, in batches of 50."""
    tmp = tmp_path_factory.mktemp("planted")
    source = planted_pool(tmp / "pool.jsonl", size=600)
    return source, tmp / "local.jsonl", score(source, tmp / "local.jsonl", tmp, LocalExecutor(1), 50)


def _bad_record(index: int) -> int:
    if index == 7:
        raise InputError("pool.jsonl", index, "not JSON")
    return index


@pytest.mark.slow
def test_the_executor_keeps_job_order_and_raises_a_jobs_error_as_itself(ray_runtime: str) -> None:
    from assay.pipeline.engine.ray_executor import RayExecutor

    executor = RayExecutor()
    assert list(executor.map(abs, range(-40, 0))) == [abs(i) for i in range(-40, 0)]  # three windows on 2 CPUs
    with pytest.raises(InputError, match="pool.jsonl:line 7: not JSON"):  # as the CLI's one-line handler wants it
        list(executor.map(_bad_record, range(10)))


@pytest.mark.slow
def test_jobs_stream_two_per_cpu_as_plain_tasks_with_no_actors(ray_runtime: str) -> None:
    # Ray Data ran the jobs in windows of 16 (read, pickled and drained whole) and started its own
    # detached actors on the cluster: about a third more CPU than the local engine (evals/README.md).
    import ray

    from assay.pipeline.engine.ray_executor import RayExecutor

    executor = RayExecutor()
    pulled = []

    def jobs() -> Iterator[int]:
        for index in range(-40, 0):
            pulled.append(index)
            yield index

    results = executor.map(abs, jobs())
    assert next(results) == 40
    assert len(pulled) <= 2 * executor.workers  # the first result came before the rest were read
    assert list(results) == [abs(i) for i in range(-39, 0)]
    assert ray.util.list_named_actors(all_namespaces=True) == []


@pytest.mark.slow
def test_quickstart_gives_the_local_engines_output_and_summary(ray_runtime: str, tmp_path: Path) -> None:
    from assay.pipeline.engine.ray_executor import RayExecutor

    reference = score(QUICKSTART, tmp_path / "local.jsonl", tmp_path, LocalExecutor(1), 4)
    report = score(QUICKSTART, tmp_path / "ray.jsonl", tmp_path, RayExecutor(), 4)
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert comparable(report) == comparable(reference)
    assert not default_work_dir(tmp_path / "ray.jsonl").exists()


@pytest.mark.slow
def test_a_planted_pool_gives_the_local_engines_output_summary_and_candidates(
        ray_runtime: str, planted: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    from assay.pipeline.engine.dedup_pass import candidate_groups
    from assay.pipeline.engine.ray_executor import RayExecutor

    source, local_out, reference = planted
    assert reference["repeats"] and reference["by_reason"]["duplicate_of"] >= 30  # the plants took
    out = tmp_path / "ray.jsonl"
    executor = RayExecutor()
    options = ScoreOptions(dedup=METHODS, embed=False)
    run = score_streaming(source, out, options, plugins=Config().plugins, executor=executor, skip_invalid=False,
                          max_record_bytes=16_000_000, settings=EngineSettings(batch_size=50, keep_parts=True))
    assert out.read_bytes() == local_out.read_bytes()
    assert run.summary["by_reason"] == reference["by_reason"]
    parts = Parts(run.work_dir, "")  # read only: the fingerprint matters when a folder is opened
    local_groups, ray_groups = candidate_groups(parts, 12, options), executor.candidate_groups(parts, 12, options)
    assert ray_groups[0] == local_groups[0] and len(local_groups[1]) > 0
    assert np.array_equal(ray_groups[1], local_groups[1]) and np.array_equal(ray_groups[2], local_groups[2])


class DyingExecutor:
    """The Ray executor, its jobs logged per call (pass, batch, node) and one job's worker killed once, mid-job."""

    def __init__(self, inner: Any, log: Path, marker: Path) -> None:
        self.inner, self.log, self.marker = inner, log, marker
        self.workers = inner.workers

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self.inner.map(functools.partial(_logged, fn, str(self.log), str(self.marker)), items)

    def candidate_groups(self, parts: Any, batches: int, options: ScoreOptions) -> Any:
        return self.inner.candidate_groups(parts, batches, options)

    def close(self) -> None:
        self.inner.close()


def _logged(fn: Callable[[Any], Any], log: str, marker: str, job: Any) -> Any:
    """Log the call; in screening batch 5, the first time, end the worker process as a crash or OOM kill would."""
    import ray

    name = getattr(fn, "__name__", "?")
    index = getattr(job, "index", "-")
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{name} {index} {ray.get_runtime_context().get_node_id()}\n")
    if name == "screen_batch" and index == 5 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return fn(job)


@pytest.mark.slow
def test_a_worker_killed_mid_pass_costs_only_its_job(ray_runtime: str, planted: tuple[Path, Path, dict[str, Any]],
                                                     tmp_path: Path) -> None:
    from assay.pipeline.engine.ray_executor import RayExecutor

    source, local_out, reference = planted
    out, log, marker = tmp_path / "ray.jsonl", tmp_path / "calls.log", tmp_path / "killed"
    executor = DyingExecutor(RayExecutor(), log, marker)
    run = score_streaming(source, out, ScoreOptions(dedup=METHODS, embed=False), plugins=Config().plugins,
                          executor=executor, skip_invalid=False, max_record_bytes=16_000_000,
                          settings=EngineSettings(batch_size=50))
    assert marker.exists()  # the kill happened
    assert out.read_bytes() == local_out.read_bytes()
    assert run.summary["by_reason"] == reference["by_reason"]
    calls = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    screened = Counter(int(index) for name, index, _ in calls if name == "screen_batch")
    assert screened == {**{i: 1 for i in range(12)}, 5: 2}  # the killed job ran again, no other
    assert run.computed["screen"] == 12  # one part per batch, each written once
    if ray_runtime == "two_nodes":
        assert len({node for *_, node in calls}) == 2  # both nodes did work


def _stages_built(fn: Callable[[Any], Any], log: str, job: Any) -> Any:
    """Run the job; log its worker process and how many stage sets (decontamination index included) it built."""
    from assay.pipeline.engine import screen_pass

    before = len(screen_pass._stages_cache)  # the worker may hold other tests' sets: count this job's
    result = fn(job)
    if getattr(fn, "__name__", "") == "screen_batch":
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {len(screen_pass._stages_cache) - before}\n")
    return result


class StageCountingExecutor(DyingExecutor):
    """The Ray executor, each screening job logging its worker's built stage sets."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self.inner.map(functools.partial(_stages_built, fn, str(self.log)), items)


@pytest.mark.slow
def test_decontamination_builds_its_benchmark_index_once_per_worker(ray_runtime: str, tmp_path: Path) -> None:
    from assay.pipeline.engine.ray_executor import RayExecutor

    pool, benchmark = EXAMPLES / "pool.jsonl", EXAMPLES / "benchmark.jsonl"

    def run(out: Path, executor: Any) -> dict[str, Any]:
        report = score_file(pool, out, config=Config(), runtime=Runtime(env={"ASSAY_HOME": str(tmp_path / "home")}),
                            session_dir=None, skip_invalid=False, methods=METHODS, decontam=(benchmark,), ifd=False,
                            ifd_model=None, embed=False, clusters=None, workers=1, batch_size=10, executor=executor)
        return dict(report)

    reference = run(tmp_path / "local.jsonl", LocalExecutor(1))
    log = tmp_path / "stages.log"
    report = run(tmp_path / "ray.jsonl", StageCountingExecutor(RayExecutor(), log, tmp_path / "unused"))
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert comparable(report) == comparable(reference)
    assert any(reason.startswith("contaminated") for reason in reference["by_reason"])  # the index was used
    built = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    workers = {pid for pid, _ in built}
    assert len(built) == 16 > len(workers)  # 155 records in batches of 10, on a worker or two
    builds = Counter(pid for pid, count in built for _ in range(int(count)))
    assert builds == Counter(workers)  # each worker built the stages, the index with them, once
