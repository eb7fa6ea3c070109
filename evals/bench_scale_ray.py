"""One Ray row of evals/bench_scale.py: `assay score --engine ray` on a simulated cluster of N nodes.

    python evals/bench_scale_ray.py NODES CPUS POOL OUT [--batch-size N] [--embed]

Starts a simulated cluster (ray.cluster_utils.Cluster: real raylets and object stores, on this
machine) of NODES nodes sharing CPUS CPUs evenly, then runs the real command against it,
`assay score POOL --no-embed --dedup exact,minhash -o OUT --engine ray --ray-address HEAD`,
as a user with a running cluster would. With `--embed` the command scores with embeddings (no
`--no-embed`): the screening runs in the command, the embeddings on Ray actors, one per node.
Prints one JSON line: the command's wall seconds (the cluster's own start is left out, as a
user's cluster is up before the command) and the start's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


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
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    finally:
        cluster.shutdown()
    print(json.dumps({"seconds": seconds, "startup": startup}))


if __name__ == "__main__":
    main()
