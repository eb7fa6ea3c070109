"""Benchmark: MIG and DEITA selection time and peak memory from 10k to 1M candidates.

    python evals/bench_select_scale.py [--sizes 10000 100000 1000000] [--fraction 0.05]
                                       [--reference-picks 50] [--skip-reference]

Two parts, on synthetic pools (Zipf-distributed tags with near-synonym families, label
embeddings, quality in [1, 5], 384-d sample vectors around 64 centres):

1. MIG against the reference algorithm. The reference sampler (yichengchen24/xsample
   `MIGSampler`) keeps a dense N × L matrix and, every pick, copies the unpicked rows and
   multiplies them by the gradient: O(N·L) per pick. The maintainers' figures on 2 cores:
   81 s for N = 20k, 2k labels, 1k picks; 219 s for N = 100k, 500 picks (≈ 37 min for 5k).
   We time a dense transcription of that algorithm (torch, float32, as there) beside our
   plain greedy (sparse, every candidate re-evaluated every pick) and lazy greedy, and check
   that all three pick the same samples in the same order. At N = 100k the dense run is
   timed on its first `--reference-picks` picks and extrapolated linearly (each pick costs
   the same: one pass over the unpicked rows).
2. Scale: MIG (graph build + lazy greedy) and DEITA (τ = 0.9) selecting 5 % of 10k, 100k
   and 1M, with wall time and the peak memory the selection allocates (tracemalloc, in a
   second, traced run) — and how time grows with N.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from assay.tools.selection import MigOptions, select
from assay.tools.selection.base import Admission, Constraints, Pool
from assay.tools.selection.label_graph import information_matrix, label_adjacency, propagation_matrix
from assay.tools.selection.mig import lazy_greedy, plain_greedy
from assay.tools.selection.synthetic import synthetic_label_vectors, synthetic_labels, synthetic_vectors

REFERENCE_FIGURES = {20_000: (1_000, 81.0), 100_000: (500, 219.0)}  # N: (picks, seconds), measured on 2 cores


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run `work`; returns its result, wall seconds and this process's CPU seconds.

    CPU time is the steadier figure on a shared machine: other processes stretch wall time.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - started, time.process_time() - cpu_started


def seconds(wall: float, cpu: float) -> str:
    return f"{wall:.2f} ({cpu:.2f})"


def traced_peak(work: Callable[[], Any]) -> float:
    """Peak memory (MiB) that `work` allocates above what was allocated before, numpy arrays
    included (numpy reports its buffers to tracemalloc). A second run: tracing slows Python code."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        work()
        return (tracemalloc.get_traced_memory()[1] - base) / 2**20
    finally:
        tracemalloc.stop()


def mig_pool(n: int, n_labels: int, seed: int) -> Pool:
    rng = np.random.default_rng(seed)
    return Pool(size=n, quality=np.round(rng.uniform(1.0, 5.0, n), 3), labels=synthetic_labels(n, n_labels, rng),
                label_vectors=synthetic_label_vectors(n_labels, rng))


def dense_reference(pool: Pool, picks: int) -> list[int]:
    """The reference sampler's algorithm, transcribed: dense matrices, every unpicked row each pick."""
    import torch

    torch.set_num_threads(2)
    information = information_matrix(pool.labels, pool.quality, propagation_matrix(label_adjacency(pool.label_vectors)))
    dense = torch.from_numpy(information.toarray().astype(np.float32))
    mask = torch.ones(pool.size, dtype=torch.bool)
    totals = torch.zeros(dense.shape[1], dtype=torch.float32)
    remaining = list(range(pool.size))
    chosen = []
    for _ in range(picks):
        slope = 0.8 * (totals + 1e-6) ** (0.8 - 1)
        gains = dense[mask] @ slope
        k = int(torch.argmax(gains))
        row = int(torch.nonzero(mask).squeeze(1)[k])
        totals += dense[row]
        mask[row] = False
        chosen.append(remaining.pop(k))
    return chosen


def speed_part(args: argparse.Namespace) -> None:
    print(f"\nMIG against the reference algorithm ({args.labels} labels; seconds as wall (CPU); "
          "reference figures: the maintainers', 2 cores)")
    print(f"{'N':>8} {'picks':>6} {'reference':>10} {'dense transcription':>26} {'plain greedy':>17} "
          f"{'lazy greedy':>14} {'speed-up':>13} {'evals/pick':>10} {'same picks':>11}")
    for n, picks in ((20_000, 1_000), (100_000, 5_000)):
        pool = mig_pool(n, args.labels, args.seed)
        information = information_matrix(pool.labels, pool.quality, propagation_matrix(label_adjacency(pool.label_vectors)))
        lazy, lazy_s, lazy_cpu = timed(lambda: lazy_greedy(information, picks, Admission(pool, Constraints())))
        plain_picks = picks if n <= 20_000 else min(picks, args.reference_picks * 10)
        plain, plain_s, plain_cpu = timed(lambda: plain_greedy(information, plain_picks, Admission(pool, Constraints())))
        same_plain = plain.indices.tolist() == lazy.indices[:plain_picks].tolist()
        their_picks, their_s = REFERENCE_FIGURES[n]
        theirs = their_s * picks / their_picks
        scale_plain = picks / plain_picks
        dense_text, dense_total, dense_cpu_total, same_dense = "skipped", None, None, "-"
        if not args.skip_reference:
            ref_picks = picks if n <= 20_000 else args.reference_picks
            dense, dense_s, dense_cpu = timed(lambda: dense_reference(pool, ref_picks))
            dense_total, dense_cpu_total = dense_s * picks / ref_picks, dense_cpu * picks / ref_picks
            dense_text = seconds(dense_total, dense_cpu_total) + ("" if ref_picks == picks else f" ⟵{ref_picks}")
            same_dense = f"{sum(a == b for a, b in zip(dense, lazy.indices.tolist(), strict=False))}/{ref_picks}"
        plain_text = seconds(plain_s * scale_plain, plain_cpu * scale_plain) + ("" if plain_picks == picks else "*")
        speedup = f"{(dense_total or theirs) / lazy_s:.0f}×" + (f" ({dense_cpu_total / lazy_cpu:.0f}×)" if dense_cpu_total else "")
        print(f"{n:>8,} {picks:>6,} {theirs:>8.0f} s {dense_text:>26} {plain_text:>17} {seconds(lazy_s, lazy_cpu):>14} "
              f"{speedup:>13} {(lazy.evaluations - n) / picks:>10.1f} {same_dense:>9} {'✓' if same_plain else '✗'}")
    print(f"speed-up = dense transcription (else the reference figure) ÷ lazy greedy, wall (CPU); ⟵k = timed on k picks, "
          f"* = on {args.reference_picks * 10} picks, scaled to all; same picks: the dense run agreeing rank by rank, "
          "✓ = plain greedy identical to lazy")


def scale_part(args: argparse.Namespace) -> None:
    print(f"\nScale: selecting {args.fraction:.0%} ({args.labels_large} labels at 1M, {args.labels} below; "
          "DEITA τ = 0.9 on 384-d vectors; seconds as wall (CPU))")
    print(f"{'N':>10} {'picks':>7} {'MIG graph':>14} {'MIG select':>15} {'MIG peak':>9} {'evals/pick':>10} "
          f"{'DEITA':>15} {'DEITA peak':>11}")
    rows = []
    for n in args.sizes:
        picks = int(n * args.fraction)
        pool = mig_pool(n, args.labels_large if n >= 1_000_000 else args.labels, args.seed)

        def build() -> Any:
            return information_matrix(pool.labels, pool.quality, propagation_matrix(label_adjacency(pool.label_vectors)))

        information, graph_s, graph_cpu = timed(build)
        run, mig_s, mig_cpu = timed(lambda: lazy_greedy(information, picks, Admission(pool, Constraints())))
        mig_peak = traced_peak(lambda: lazy_greedy(build(), picks, Admission(pool, Constraints()))) if args.memory else math.nan
        check = select("mig", pool, picks, mig=MigOptions()) if n <= 10_000 else None
        assert check is None or check.indices.tolist() == run.indices.tolist()
        del information
        vectors, _ = synthetic_vectors(n, np.random.default_rng(args.seed), dim=384)
        vector_pool = Pool(size=n, quality=pool.quality, vectors=vectors)
        deita, deita_s, deita_cpu = timed(lambda: select("deita", vector_pool, picks))
        deita_peak = traced_peak(lambda: select("deita", vector_pool, picks)) if args.memory else math.nan
        assert len(deita.indices) == picks
        del vectors, vector_pool
        print(f"{n:>10,} {picks:>7,} {seconds(graph_s, graph_cpu):>14} {seconds(mig_s, mig_cpu):>15} {mig_peak:>5.0f} MiB "
              f"{(run.evaluations - n) / picks:>10.1f} {seconds(deita_s, deita_cpu):>15} {deita_peak:>7.0f} MiB")
        rows.append((n, graph_s + mig_s, deita_s, graph_cpu + mig_cpu, deita_cpu))
    if len(rows) > 1:
        print("growth with N (exponent k in time ∝ N^k, from CPU time):")
        for (n0, m0, d0, mc0, dc0), (n1, m1, d1, mc1, dc1) in zip(rows, rows[1:], strict=False):
            scale = math.log(n1 / n0)
            print(f"  {n0:,} → {n1:,}: MIG ×{m1 / m0:.1f} wall, k = {math.log(mc1 / mc0) / scale:.2f}; "
                  f"DEITA ×{d1 / d0:.1f} wall, k = {math.log(dc1 / dc0) / scale:.2f}")
    print("peak = memory allocated by graph build + selection (MIG) or by the selection (DEITA), beyond its inputs "
          "(DEITA's N × 384 float32 vectors); picks = 5 % of N, so N and picks grow together.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--labels", type=int, default=2_000, help="tags in the pool (2k, as in the reference figures)")
    parser.add_argument("--labels-large", type=int, default=10_000, help="tags at 1M candidates")
    parser.add_argument("--reference-picks", type=int, default=50, help="dense picks timed at N = 100k (then extrapolated)")
    parser.add_argument("--skip-reference", action="store_true", help="skip the dense transcription (minutes at 100k)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the traced runs for peak memory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if not args.skip_speed:
        speed_part(args)
    if not args.skip_scale:
        scale_part(args)


if __name__ == "__main__":
    main()
