"""One Ray row of evals/bench_scale.py: `assay score --engine ray` on a simulated cluster of N nodes.

    python evals/bench_scale_ray.py NODES CPUS POOL OUT [--batch-size N] [--embed]

Starts a simulated cluster (ray.cluster_utils.Cluster: real raylets and object stores, on this
machine) of NODES nodes sharing CPUS CPUs evenly, then runs the real command against it,
`assay score POOL --no-embed --dedup exact,minhash -o OUT --engine ray --ray-address HEAD`,
as a user with a running cluster would. With `--embed` the command scores with embeddings (no
`--no-embed`): the screening runs in the command, the embeddings on Ray actors, one per node.
Prints one JSON line: the command's wall seconds and CPU seconds, and the cluster start's. The
cluster's start is left out of the command's figures, as a user's cluster is up before the
command: `seconds` and `cpu` count from the command's launch to its exit. `cpu` is the CPU time
(user + system) of every process of the run, the command (the driver) and the cluster's (GCS,
raylets, Ray's worker processes), sampled from /proc every 0.1 s (slightly under the true figure,
by what a process spent after its last sample); `driver_cpu` is the command's own, exact.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import _tree_cpu  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("nodes", type=int)
    parser.add_argument("cpus", type=int)
    parser.add_argument("pool", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--embed", action="store_true", help="score with embeddings, embedded on Ray actors")
    args = parser.parse_args(argv)
    if args.cpus % args.nodes:
        raise SystemExit(f"{args.cpus} CPUs do not split evenly over {args.nodes} nodes")
    from ray.cluster_utils import Cluster

    started = time.perf_counter()
    per_node = args.cpus // args.nodes
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": per_node, "include_dashboard": False})
    try:
        for _ in range(args.nodes - 1):
            cluster.add_node(num_cpus=per_node)
        cluster.wait_for_nodes()
        startup = time.perf_counter() - started
        assay = str(Path(sys.executable).with_name("assay"))
        command = [assay, "score", str(args.pool), *([] if args.embed else ["--no-embed"]), "--dedup", "exact,minhash",
                   "-o", str(args.out),
                   "--engine", "ray", "--ray-address", cluster.address, "--batch-size", str(args.batch_size)]
        startup_cpu = sum(_tree_cpu(os.getpid()).values())
        seconds, cpu, driver_cpu = run_command(command)
    finally:
        cluster.shutdown()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "driver_cpu": driver_cpu, "startup": startup,
                      "startup_cpu": startup_cpu}))


def run_command(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process's whole tree meanwhile, the command's own CPU seconds)."""
    before = _tree_cpu(os.getpid())
    last: dict[int, float] = {}
    command_tree: set[int] = set()  # the command and what it spawned: counted by its rusage, once it is reaped
    stop = threading.Event()

    def sample() -> None:  # a process may end between samples (a worker whose job is over): keep its last figure
        while not stop.wait(0.1):
            last.update(_tree_cpu(os.getpid()))
            command_tree.update(_tree_cpu(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # the cluster's processes are reaped only at its shutdown
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler.start()
    _, stderr = child.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr[-3000:]}")
    driver = usage.ru_utime + usage.ru_stime - reaped.ru_utime - reaped.ru_stime  # the command's, exactly
    cluster = {pid: cpu for pid, cpu in last.items() if pid not in command_tree and pid != os.getpid()}  # it waits
    return seconds, driver + sum(cpu - before.get(pid, 0.0) for pid, cpu in cluster.items()), driver


if __name__ == "__main__":
    main()
