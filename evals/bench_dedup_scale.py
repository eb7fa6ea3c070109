"""Benchmark: exact + MinHash dedup time, candidates and verifications against pool size.

    python evals/bench_dedup_scale.py [--sizes 10k,50k,100k] [--source scale|dedup] [--dup-rate 0.2]
                                      [--pool-dir /tmp/assay_scale] [--seed 0]

Pools: `--source scale` (default) reads or writes the scale pools of evals/scale_pool.py in
--pool-dir, named by the generator's version (`pool_v2_SIZE_dRATE_sSEED.jsonl`, the ones
evals/bench_scale.py uses: originals assembled from many Alpaca and Dolly records, a --dup-rate
share of exact and lightly edited copies in clusters of up to 500); `--source dedup` makes
evals/dedup_pool.py's pool in memory (alpaca_5000 recombinations, clusters of 2 to 300, half
edited by 1-5 % of words). Each size runs `dedup(samples, ("exact", "minhash"))` in a fresh
child process with the default recipe's settings, as `assay score --no-embed --dedup
exact,minhash --engine memory` does, and reports:

  CPU s          the dedup call's CPU seconds (the machine is shared: wall time measures the neighbours)
  candidates     distinct pairs LSH proposes (one band equal, estimate at the cut; dedup_lsh.py)
  verified       pairs verified (3-gram Jaccard, then the edited-copy and same-task rules)
  growth         log(ratio) / log(size ratio) between consecutive sizes; 1.0 is linear

Candidates are counted after the timed call, from the finder's buckets; the old code (which
had no buckets) prints "-".
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "evals"))


def child(pool: str, size: int, source: str, seed: int) -> None:
    """Time one dedup in this process; print one JSON line of figures."""
    from assay.core.recipe_screen import ScreenSettings
    from assay.pipeline.screen.scoring import dedup_options
    from assay.tools import dedup_minhash
    from assay.tools.dedup import dedup

    if source == "scale":
        from assay.pipeline.intake.ingest import read_inputs

        samples = read_inputs([Path(pool)], skip_invalid=False, max_record_bytes=16_000_000).samples
    else:
        from dedup_pool import load_records, make_pool

        from assay.core.formats import record_to_sample

        samples = [record_to_sample(r, "alpaca", source="bench") for r in make_pool(load_records(), size, 0.3, seed=seed)]
    finders = []
    init = dedup_minhash.MinHashFinder.__init__

    def keeping(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        init(self, *args, **kwargs)
        finders.append(self)

    dedup_minhash.MinHashFinder.__init__ = keeping  # type: ignore[method-assign]
    started, cpu = time.perf_counter(), time.process_time()
    result = dedup(samples, ("exact", "minhash"), **dedup_options(ScreenSettings()))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finder = finders[0]
    sizes = [len(c.dropped) + 1 for c in result.clusters]
    print(json.dumps({"size": len(samples), "seconds": seconds, "cpu": cpu,
                      "verified": getattr(finder, "verified", None), "candidates": candidates(finder),
                      "dropped": sum(not a.keep for a in result.assessments), "largest": max(sizes, default=0)}))


def candidates(finder) -> int | None:  # type: ignore[no-untyped-def]
    """Distinct pairs the finder's LSH proposes (None for code without buckets)."""
    import numpy as np

    index = getattr(finder, "index", None)
    if not hasattr(index, "buckets"):
        return None
    count = len(index.signatures)
    codes = []
    for bucket in index.buckets:
        first, second = np.triu_indices(len(bucket), 1)
        codes.append(bucket[first].astype(np.int64) * count + bucket[second])
    pairs = np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    proposed = 0
    for start in range(0, len(pairs), 100_000):  # the estimate cut, in bounded chunks
        a, b = pairs[start:start + 100_000] // count, pairs[start:start + 100_000] % count
        proposed += int(((index.signatures[a] == index.signatures[b]).mean(axis=1) >= index.cut).sum())
    return proposed


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    from bench_scale import pool_path
    from scale_pool import parse_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,50k,100k")
    parser.add_argument("--source", choices=("scale", "dedup"), default="scale")
    parser.add_argument("--dup-rate", type=float, default=0.2)
    parser.add_argument("--pool-dir", type=Path, default=Path("/tmp/assay_scale"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.source == "scale":
        from scale_pool import POOL_VERSION

        print(f"scale pools {POOL_VERSION} in {args.pool_dir}, dup-rate {args.dup_rate}, seed {args.seed}")
    print("| pool | wall s | CPU s | samples/s (CPU) | candidates/sample | verified/sample | dropped | largest cluster |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for size in (parse_size(s) for s in args.sizes.split(",")):
        pool = pool_path(args.pool_dir, size, args.dup_rate, args.seed) if args.source == "scale" else "-"
        out = subprocess.run([sys.executable, __file__, "_child", str(pool), str(size), args.source, str(args.seed)],
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        n = row["size"]
        per = (lambda v: "-" if v is None else f"{v / n:.2f}")
        print(f"| {n:,} | {row['seconds']:.1f} | {row['cpu']:.1f} | {n / row['cpu']:,.0f} | {per(row['candidates'])} | "
              f"{per(row['verified'])} | {row['dropped']:,} | {row['largest']} |", flush=True)
    for first, last in zip(rows, rows[1:]):
        scale = math.log(last["size"] / first["size"])
        growth = {key: math.log(max(last[key], 1) / max(first[key], 1)) / scale
                  for key in ("cpu", "candidates", "verified") if first[key] is not None and last[key] is not None}
        print(f"growth {first['size']:,} -> {last['size']:,}: " + ", ".join(f"{k} N^{v:.2f}" for k, v in growth.items()))


if __name__ == "__main__":
    main()
