"""Benchmark: exact + MinHash dedup time and verification work against pool size and duplicate share.

    python evals/bench_dedup_scale.py [--sizes 10000,20000,50000] [--duplicates 0.3,0] [--seed 0]

Each pool comes from evals/dedup_pool.py (alpaca_5000 records and recombinations; the
duplicates in clusters of 2 to 300 copies, half exact or surface-varied, half lightly
edited). It runs `dedup(samples, ("exact", "minhash"))` with the default recipe's settings,
as `assay score --no-embed --dedup exact,minhash` does, and counts the MinHash candidate
pairs verified (exact Jaccard, then the edited-copy and same-task rules) and the duplicate
pairs the clusters hold (sum of k(k-1)/2), which the verifications once grew with. The
growth exponent is log(CPU time ratio) / log(size ratio) between the smallest and largest
pool: CPU time, since wall time on a shared machine measures the other jobs too.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_pool import DEFAULT_DATA, load_records, make_pool  # noqa: E402


def run(records: list[dict[str, str]], size: int, duplicates: float, seed: int) -> dict[str, float]:
    """Time one dedup of a fresh pool; count verifications, drops and the pairs in its clusters."""
    from assay.core.formats import record_to_sample
    from assay.core.recipe_screen import ScreenSettings
    from assay.pipeline.screen.scoring import dedup_options
    from assay.tools import dedup_minhash
    from assay.tools.dedup import dedup

    samples = [record_to_sample(r, "alpaca", source="bench") for r in make_pool(records, size, duplicates, seed=seed)]
    counted = {"verified": 0}
    verify = dedup_minhash.MinHashFinder.verify

    def counting(self, first, second):  # type: ignore[no-untyped-def]
        counted["verified"] += 1
        return verify(self, first, second)

    dedup_minhash.MinHashFinder.verify = counting  # type: ignore[method-assign]
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = dedup(samples, ("exact", "minhash"), **dedup_options(ScreenSettings()))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        dedup_minhash.MinHashFinder.verify = verify  # type: ignore[method-assign]
    sizes = [len(c.dropped) + 1 for c in result.clusters]
    return {"size": size, "duplicates": duplicates, "seconds": seconds, "cpu": cpu, "verified": counted["verified"],
            "dropped": sum(not a.keep for a in result.assessments), "largest": max(sizes, default=0),
            "cluster_pairs": sum(k * (k - 1) // 2 for k in sizes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,20000,50000")
    parser.add_argument("--duplicates", default="0.3,0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data} (see ../shared/data/README.md)")
    __import__("datasketch")  # loaded before the clock starts
    records = load_records(args.data)
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| pool | duplicates | wall s | CPU s | samples/s (CPU) | verified | verified/sample | pairs in clusters | "
          "largest cluster | dropped |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for share in (float(d) for d in args.duplicates.split(",")):
        rows = [run(records, size, share, args.seed) for size in sizes]
        for row in rows:
            print(f"| {row['size']:,} | {share:.0%} | {row['seconds']:.1f} | {row['cpu']:.1f} | "
                  f"{row['size'] / row['cpu']:,.0f} | "
                  f"{row['verified']:,} | {row['verified'] / row['size']:.1f} | {row['cluster_pairs']:,} | "
                  f"{row['largest']} | {row['dropped']:,} |", flush=True)
        if len(rows) > 1:
            first, last = rows[0], rows[-1]
            growth = math.log(last["cpu"] / first["cpu"]) / math.log(last["size"] / first["size"])
            work = math.log(last["verified"] / max(first["verified"], 1)) / math.log(last["size"] / first["size"])
            print(f"|  | {share:.0%}: growth {first['size']:,} -> {last['size']:,} | | CPU N^{growth:.2f} | | "
                  f"verified N^{work:.2f} | | | | |", flush=True)


if __name__ == "__main__":
    main()
