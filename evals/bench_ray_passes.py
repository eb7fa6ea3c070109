"""Where the Ray engine's time goes, pass by pass, next to the local engine's, on the same pool.

    python evals/bench_ray_passes.py POOL --engine local|ray [--nodes 1] [--cpus 2] [--repeat 1]

Runs `assay score --no-embed --dedup exact,minhash`'s engine (pipeline/engine/score.py score_file)
in this process, on `--cpus` local worker processes or on a simulated Ray cluster of `--nodes`
nodes sharing `--cpus` CPUs (started first and left out, as a user's cluster is up before the
command). Each job is timed inside its worker. Prints, per run, one JSON line: wall seconds, the
CPU seconds of every process of the run (this one, the workers, Ray's own daemons), by process,
and per pass its wall seconds, its jobs' CPU and wall seconds, and how long after the pass began
its first job started. `--repeat N` runs the command N times on the same executor: on Ray the
later runs find their worker processes started (a second command on a cluster starts its own).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from bench_scale import _tree_cpu  # noqa: E402


def timed(fn: Any, job: Any) -> tuple[Any, tuple[float, float, float]]:
    """Run one job in its worker: (its result, (wall seconds, CPU seconds, when it started: epoch seconds))."""
    start, cpu = time.time(), time.process_time()
    result = fn(job)
    return result, (time.time() - start, time.process_time() - cpu, start)


class TimingExecutor:
    """An executor whose passes and jobs are timed (the engine's passes run through `map`)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.workers, self.passes = inner, inner.workers, []

    def map(self, fn: Any, items: Any) -> Any:
        began, jobs = time.time(), []
        for result, timing in self.inner.map(functools.partial(timed, fn), items):
            jobs.append(timing)
            yield result
        self.passes.append({"pass": fn.__name__, "wall": time.time() - began, "jobs": len(jobs),
                            "job_cpu": sum(c for _, c, _ in jobs), "job_wall": sum(w for w, _, _ in jobs),
                            "first_start": min((s for *_, s in jobs), default=began) - began})

    def candidate_groups(self, *args: Any) -> Any:
        from assay.pipeline.engine.dedup_groups import candidate_groups

        began = time.time()
        try:
            return getattr(self.inner, "candidate_groups", candidate_groups)(*args)
        finally:
            self.passes.append({"pass": "candidate_groups", "wall": time.time() - began})

    def close(self) -> None:
        """Left open between repeats; main closes the inner executor."""


def kind(pid: int) -> str:
    """A process's role, from its command line."""
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "ended"
    for key, name in (("forkserver", "local worker"), ("ray::IDLE", "ray worker"), ("ray::", "ray actor"),
                      ("raylet", "ray daemons"), ("gcs_server", "ray daemons"), ("ray/", "ray daemons")):
        if key in line:
            return name
    return "driver" if pid == os.getpid() else "other"


def run_once(pool: Path, out: Path, executor: TimingExecutor) -> dict[str, Any]:
    """One scoring run; its wall and CPU figures."""
    from assay.core.config import Config
    from assay.pipeline.engine.score import score_file
    from assay.session.session import Runtime

    before, last, stop = _tree_cpu(os.getpid()), {}, threading.Event()
    sampling = [0.0]  # the sampler's own CPU, in this process: not the run's

    def sample() -> None:
        while not stop.wait(0.1):
            last.update(_tree_cpu(os.getpid()))
        sampling[0] = time.thread_time()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    score_file(pool, out, config=Config(), runtime=Runtime(env=dict(os.environ)), session_dir=None, skip_invalid=False,
               methods=("exact", "minhash"), decontam=(), ifd=False, ifd_model=None, embed=False, clusters=None,
               executor=executor)
    wall = time.perf_counter() - began
    stop.set()
    sampler.join()
    last.update(_tree_cpu(os.getpid()))
    by_kind: Counter[str] = Counter()
    for pid, cpu in last.items():
        by_kind[kind(pid)] += cpu - before.get(pid, 0.0)
    by_kind["driver"] -= sampling[0]
    passes, executor.passes = executor.passes, []
    return {"wall": round(wall, 2), "cpu": round(sum(by_kind.values()), 2),
            "cpu_by_process": {k: round(v, 2) for k, v in by_kind.most_common() if v >= 0.01},
            "passes": [{k: round(v, 2) if isinstance(v, float) else v for k, v in p.items()} for p in passes]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pool", type=Path)
    parser.add_argument("--engine", choices=("local", "ray"), default="ray")
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_ray_passes.jsonl"))
    args = parser.parse_args(argv)
    cluster = None
    if args.engine == "ray":
        from ray.cluster_utils import Cluster

        from assay.pipeline.engine.ray_executor import RayExecutor

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus // args.nodes,
                                                                 "include_dashboard": False})
        for _ in range(args.nodes - 1):
            cluster.add_node(num_cpus=args.cpus // args.nodes)
        cluster.wait_for_nodes()
        inner: Any = RayExecutor(address=cluster.address)
    else:
        from assay.pipeline.engine.executor import LocalExecutor
        from assay.pipeline.engine.score import PASS_MODULES

        inner = LocalExecutor(args.cpus, preload=PASS_MODULES)
    executor = TimingExecutor(inner)
    try:
        for run in range(args.repeat):
            print(json.dumps({"engine": args.engine, "run": run + 1, **run_once(args.pool, args.out, executor)}),
                  flush=True)
    finally:
        inner.close()
        if cluster is not None:
            cluster.shutdown()


if __name__ == "__main__":
    main()
