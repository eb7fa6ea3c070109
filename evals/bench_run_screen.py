"""Benchmark: the memory of `assay run`'s round-0 screen, streamed (engine/session_screen.py) against the size of
the pool as Sample objects (what the in-memory screen held before issue 14's item 1).

    python evals/bench_run_screen.py [--pool /tmp/assay_scale/pool_30000_d0.2_s0.jsonl] [--size 20000]
                                     [--batch 2000] [--dims 16] [--dedup exact,minhash] [--in-memory]

Ingests the first SIZE records of POOL into a fresh session (a stand-in embedder: a DIMS-float vector
hashed from each text; the screen's work is measured, not the model's), then, under tracemalloc:
  samples  every seed read into one list of Samples (the size the old screen started from);
  screen   the streamed screen, inline (one process, so tracemalloc sees all of it), in batches of BATCH;
  memory   (--in-memory) the old screen (screen/pool.py screen_pool_in_memory), for comparison.
Prints each one's traced peak (MB), wall and CPU seconds. The clustering holds one float32 matrix of the
survivors' vectors (4 * DIMS bytes a survivor): at MiniLM's 384 dims that is most of the streamed peak.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class StandIn:
    """A DIMS-float vector per text, from its hash (about 2 µs a text)."""

    def __init__(self, dims: int) -> None:
        self.dims = dims

    def encode(self, texts: list[str], *, on_batch: Any = None) -> np.ndarray:
        if on_batch is not None:
            on_batch(len(texts))
        rows = [np.random.default_rng(int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little"))
                .standard_normal(self.dims, dtype=np.float32) for t in texts]
        return np.stack(rows) if rows else np.zeros((0, self.dims), np.float32)


def traced(work: Any) -> tuple[float, float, float]:
    """(peak MB, wall s, CPU s) of `work()` under tracemalloc."""
    tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 1e6, time.perf_counter() - wall, time.process_time() - cpu
    finally:
        tracemalloc.stop()


def session_of(folder: Path, pool: Path, size: int, dims: int, dedup: list[str]) -> tuple[Any, Any]:
    from assay.core.config import Config
    from assay.pipeline.deps import RunOptions
    from assay.pipeline.screen.pool import ingest_inputs
    from assay.session.session import Session, Runtime
    from assay.session.store import Store, chroma_client

    folder.mkdir(parents=True)
    source = folder / "pool.jsonl"
    with pool.open(encoding="utf-8") as handle, source.open("w", encoding="utf-8") as out:
        out.writelines(itertools.islice(handle, size))
    session = Session.open(folder / "session", Runtime(), Config(), create=True)
    session.__dict__["store"] = Store(session.samples, StandIn(dims), chroma_client(session.dir, None), "bench")
    deps = SimpleNamespace(session=session, options=RunOptions(inputs=[str(source)], dedup=dedup),
                           emit=lambda kind, data: None)
    ingest_inputs(deps)
    return session, deps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=Path, default=Path("/tmp/assay_scale/pool_30000_d0.2_s0.jsonl"))
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--dedup", default="exact,minhash")
    parser.add_argument("--in-memory", action="store_true")
    args = parser.parse_args(argv)
    from assay.pipeline.engine.executor import LocalExecutor
    from assay.pipeline.engine.session_screen import screen_seeds
    from assay.pipeline.screen.pool import screen_pool_in_memory

    dedup = [m for m in args.dedup.split(",") if m]
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up on 300 records, both ways: imports and the heuristics' models load here, not in what is traced.
        for name, screen in (("w1", "stream"), ("w2", "memory")):
            warm, warm_deps = session_of(Path(tmp) / name, args.pool, 300, args.dims, dedup)
            if screen == "stream":
                screen_seeds(warm_deps, lambda: None, executor=LocalExecutor(1), batch_size=100)
            else:
                screen_pool_in_memory(warm_deps, list(warm.samples.iter()), lambda: None)
            warm.close()
        session, deps = session_of(Path(tmp) / "a", args.pool, args.size, args.dims, dedup)
        seeds = session.samples.count()
        held: list[Any] = []
        print(f"pool: {seeds} seeds ({args.pool.name}), dims {args.dims}, dedup {dedup}, batch {args.batch}")
        row = traced(lambda: held.append(list(session.samples.iter())))
        held.clear()
        print(f"samples  peak {row[0]:8.1f} MB  wall {row[1]:7.1f} s  cpu {row[2]:7.1f} s  (all seeds as Samples)")
        row = traced(lambda: screen_seeds(deps, lambda: None, executor=LocalExecutor(1), batch_size=args.batch))
        print(f"screen   peak {row[0]:8.1f} MB  wall {row[1]:7.1f} s  cpu {row[2]:7.1f} s  (streamed, inline)")
        session.close()
        if args.in_memory:
            session, deps = session_of(Path(tmp) / "b", args.pool, args.size, args.dims, dedup)
            row = traced(lambda: screen_pool_in_memory(deps, list(session.samples.iter()), lambda: None))
            print(f"memory   peak {row[0]:8.1f} MB  wall {row[1]:7.1f} s  cpu {row[2]:7.1f} s  (in memory)")
            session.close()


if __name__ == "__main__":
    main()
