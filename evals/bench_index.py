"""Benchmark: index writes off the critical path (issue 14, item 3).

    python evals/bench_index.py [--samples 20000] [--batch 2000] [--data ../shared/data/alpaca/alpaca_5000.json]

N samples (alpaca_5000's records, repeated with a numbered suffix) with precomputed unit vectors
(a stand-in embedder hands them over: embedding is not measured here), added in batches as
`assay run`'s batched ingest does:
- before: each batch inserted into SQLite, then upserted into Chroma in the same process,
  synchronously (what `Store.add` did before the columnar vectors);
- after: `Store.add` (SQLite + an Arrow part), with Chroma fed by the store's helper process;
  the time `add` takes is the pipeline's critical path, and the feed's rate is N over the time
  from the first add until the index has caught up (`feed.sync()`);
- reads: `Store.vectors` of all N ids in random order, chunks of 5,000, against the old read
  (Chroma `get` with embeddings).
Wall and CPU seconds are both printed (CPU: this process, and the helper process apart).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"
READ_CHUNK = 5000


class Precomputed:
    """An embedder that returns vectors computed beforehand (a dict lookup per text)."""

    def __init__(self, by_text: dict[str, np.ndarray]) -> None:
        self.by_text = by_text

    def encode(self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        return np.stack([self.by_text[t] for t in texts])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2000, help="samples per Store.add")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data} (see ../shared/data/README.md)")

    from assay.core.config import Config
    from assay.core.records import Message, Sample
    from assay.session.session import Runtime, Session
    from assay.session.store import ChromaPlace, Store, chroma_client, flat_metadata

    records = json.loads(args.data.read_text())
    samples = []
    for i in range(args.samples):
        r = records[i % len(records)]
        prompt = r["instruction"] + (("\n\n" + r["input"]) if r.get("input") else "")
        samples.append(Sample.create([Message(role="user", content=f"{prompt} [{i}]"),
                                      Message(role="assistant", content=r["output"])], source="bench"))
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(len(samples), 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    embedder = Precomputed({s.text(): v for s, v in zip(samples, matrix, strict=True)})
    batches = [samples[i : i + args.batch] for i in range(0, len(samples), args.batch)]
    work = Path(tempfile.mkdtemp(prefix="assay-bench-index-"))
    runtime = Runtime(env={"ASSAY_HOME": str(work / "home")})
    config = Config.model_validate({"store": {"embedding_cache": "off"}})
    n = len(samples)
    rows: list[tuple[str, float, float, str]] = []

    # Before: SQLite, then a synchronous in-process Chroma upsert, per batch.
    old = Session.open(work / "before", runtime, config, create=True)
    client = chroma_client(old.dir, None)
    collection = client.get_or_create_collection("bench-before", configuration={"hnsw": {"space": "cosine"}},
                                                  embedding_function=None)
    limit = int(client.get_max_batch_size())
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        vectors = embedder.encode([s.text() for s in batch])
        with old.conn:
            old.samples.insert(batch)
        for start in range(0, len(batch), limit):
            part = batch[start : start + limit]
            collection.upsert(ids=[s.id for s in part], embeddings=vectors[start : start + len(part)],
                              documents=[s.text() for s in part], metadatas=[flat_metadata(s) for s in part])
    before_wall, before_cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows.append(("before: add with synchronous Chroma upsert (critical path)", before_wall, before_cpu,
                 f"{n / before_wall:,.0f} samples/s"))

    # After: Store.add writes SQLite + Arrow; the helper process feeds Chroma behind it.
    new = Session.open(work / "after", runtime, config, create=True)
    store = Store(new.samples, embedder, ChromaPlace(str(new.dir)), "bench-after")  # type: ignore[arg-type]
    store.collection.count()  # start the helper outside the timing, as a session's open does
    child_cpu = children_cpu()
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        store.add(batch)
    add_wall, add_cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.feed.sync()
    feed_wall = time.perf_counter() - wall
    rows.append(("after: Store.add, Chroma fed behind (critical path)", add_wall, add_cpu,
                 f"{n / add_wall:,.0f} samples/s"))

    order = [samples[i].id for i in rng.permutation(n)]
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, READ_CHUNK):
        store.vectors(order[start : start + READ_CHUNK])
    read_wall, read_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, READ_CHUNK):
        collection.get(ids=order[start : start + READ_CHUNK], include=["embeddings"])
    chroma_read_wall, chroma_read_cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert store.collection.count() == n
    store.close()
    new.close()
    helper_cpu = children_cpu() - child_cpu
    rows.append(("after: Chroma bulk feed, first add until caught up", feed_wall, helper_cpu,
                 f"{n / feed_wall:,.0f} vectors/s (CPU: the helper process)"))
    rows.append(("Store.vectors, all ids, random order, chunks of 5,000 (Arrow parts)", read_wall, read_cpu,
                 f"{n / read_wall:,.0f} vectors/s"))
    rows.append(("before: Chroma get with embeddings, same ids", chroma_read_wall, chroma_read_cpu,
                 f"{n / chroma_read_wall:,.0f} vectors/s"))
    old.close()

    print(f"{n:,} samples, batches of {args.batch:,}, 384-dim vectors\n")
    print("| step | wall s | CPU s | rate |\n| --- | ---: | ---: | --- |")
    for name, seconds, cpu_seconds, rate in rows:
        print(f"| {name} | {seconds:.2f} | {cpu_seconds:.2f} | {rate} |")


if __name__ == "__main__":
    main()
