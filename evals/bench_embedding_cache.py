"""The shared embedding cache: `assay score` twice over the 5k Alpaca pool, then `select --method deita`.

Usage: python evals/bench_embedding_cache.py [--pool PATH]

Each command runs in this process against a fresh, empty cache folder (a scratch ASSAY_HOME),
as the CLI runs it (`run_score`, `run_select` with the CLI's embedder). Every call of the
model's encode is counted by wrapping `Embedder._encode`. Target: the second score and the
select after it encode 0 texts, and the second score's vectors are the first's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_POOL = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"


def main() -> None:
    """Run the three commands and print a table of time and encode calls."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, default=DEFAULT_POOL)
    args = parser.parse_args()
    if not args.pool.is_file():
        sys.exit(f"{args.pool}: missing (see ../shared/data/README.md)")

    from assay.core.config import Config
    from assay.pipeline.screen.files import run_score
    from assay.pipeline.progress import no_progress
    from assay.pipeline.select.files import SelectOptions, reporting_embedder, run_select
    from assay.session.embeddings import Embedder
    from assay.session.runtime import Runtime

    calls = {"calls": 0, "texts": 0}
    encode = Embedder._encode

    def counted(self: Embedder, texts, on_batch):  # type: ignore[no-untyped-def]
        calls["calls"] += 1
        calls["texts"] += len(texts)
        return encode(self, texts, on_batch)

    Embedder._encode = counted  # type: ignore[method-assign]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        runtime = Runtime(env={"ASSAY_HOME": str(work / "home")})

        def step(name: str, command) -> None:  # type: ignore[no-untyped-def]
            before = dict(calls)
            started = time.perf_counter()
            command()
            rows.append((name, time.perf_counter() - started, calls["calls"] - before["calls"],
                         calls["texts"] - before["texts"]))
            print(f"{name}: {rows[-1][1]:.1f} s, {rows[-1][2]} encode calls, {rows[-1][3]} texts encoded", flush=True)

        def score(out: str):  # type: ignore[no-untyped-def]
            return lambda: run_score(args.pool, work / out, config=Config(), runtime=runtime, session_dir=None,
                                     skip_invalid=False, methods=("exact", "minhash"), decontam=(), ifd=False,
                                     ifd_model=None, embed=True, clusters=None)

        step("assay score (first, empty cache)", score("one.jsonl"))
        step("assay score (second, same pool)", score("two.jsonl"))
        step("assay select --method deita -n 1000", lambda: run_select(
            work / "two.jsonl", work / "picked.jsonl", SelectOptions(n=1000, method="deita"),
            embed=reporting_embedder(no_progress, runtime.env)))
        same = (work / "one.jsonl").read_text() == (work / "two.jsonl").read_text()
        from assay.session.embeddings import embedder_for
        from assay.core.config import StoreSettings

        cache = embedder_for(StoreSettings(), runtime.env).cache
        assert cache is not None
        size_mb = sum(p.stat().st_size for p in cache.folder.iterdir()) / 1e6
        rate = cache.rate(embedder_for(StoreSettings(), runtime.env).identity)
    print()
    print("| command | seconds | encode calls | texts encoded |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds, n_calls, texts in rows:
        print(f"| {name} | {seconds:.1f} | {n_calls} | {texts} |")
    print(f"\nscored outputs identical: {same}; cache on disk: {size_mb:.1f} MB; "
          f"measured encode rate: {rate or float('nan'):.1f} texts/s")
    np.testing.assert_equal(rows[1][3], 0)


if __name__ == "__main__":
    main()
