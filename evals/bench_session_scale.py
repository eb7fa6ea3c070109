"""Benchmark: the session DB at scale: `assay run`'s batched ingest and streamed export of N samples.

    python evals/bench_session_scale.py [--sizes 10k,100k] [--pool-dir /tmp/assay_scale] [--dup-rate 0.2]
                                        [--seed 0] [--batch 2000] [--timeout 3600] [--plans]

For each size it writes (or reuses) the synthetic pool of evals/bench_scale.py (`scale_pool.py`),
then, in a child process of its own (peak RSS from os.wait4's ru_maxrss, CPU from its rusage):

  ingest   `pipeline.intake.stream.ingest_files`, as the run's ingest node calls it: the check
           pass, then batches read, deduplicated by id against the DB, embedded, stored in SQLite
           and Chroma (the embedded PersistentClient, as a session uses it);
  status   half the distinct samples selected, a tenth dropped (`SampleTable.set_status`, one
           executemany), then the status counts (`SampleTable.counts`);
  export   `pipeline.export.export_session`: curated, rejected and lineage from DB cursors
           (the report writer is a no-op: the report is not under test here).

The embedder is a STAND-IN (`StandInEmbedder`): a 384-float vector per text (MiniLM's width, so
Chroma stores what it would store), a mix of 32 fixed directions seeded by the text's hash, at
about 30 µs a text. The store is the one a session builds (Chroma fed by its helper process);
the process row's CPU includes that helper's. The
model's own speed is measured by evals/bench_scale.py --embed and the GPU benches; this bench
measures what the session adds around it. `--plans` prints SQLite's query plan for the
per-sample queries a run makes.

Prints wall and CPU seconds per phase, samples/s, peak RSS, and the growth exponent between
consecutive sizes, log(t2/t1) / log(n2/n1) (1.0 = linear). The machine's load shows in wall
time; CPU seconds say more on a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evals"))

from scale_pool import POOL_VERSION, parse_size, write_pool  # noqa: E402

PHASES = ("ingest", "status", "export")
PLANS = {
    "status counts": "SELECT status, reason, COUNT(*) FROM samples GROUP BY status, reason ORDER BY 3 DESC",
    "samples of a status (export, screen)": "SELECT * FROM samples WHERE status = 'selected' ORDER BY rowid",
    "known ids (ingest)": "SELECT id FROM samples WHERE id IN ('a', 'b')",
    "verdicts of a batch (export)": "SELECT sample_id, overall, source FROM judgements WHERE id IN (SELECT MAX(id) FROM "
                                    "judgements WHERE sample_id IN ('a', 'b') AND error IS NULL AND overall IS NOT NULL "
                                    "GROUP BY sample_id)",
    "children of a sample (lineage)": "SELECT child_id FROM sample_parents WHERE parent_id = 'a'",
}


class StandInEmbedder:
    """384 floats a text, seeded by the text's hash: deterministic and fast, not a model.

    Each vector mixes 32 fixed directions (plus a little noise), as real sentence embeddings
    lie near a space of few dimensions: uniformly random 384-float vectors are the worst case
    of Chroma's HNSW index, which real embeddings never are."""

    def __init__(self) -> None:
        import numpy as np

        self.basis = np.random.default_rng(0).standard_normal((32, 384)).astype(np.float32)

    def encode(self, texts: list[str], *, on_batch: Any = None) -> Any:
        import numpy as np

        mix = np.empty((len(texts), 32), dtype=np.float32)
        noise = np.empty((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))
            mix[row] = rng.standard_normal(32, dtype=np.float32)
            noise[row] = rng.standard_normal(384, dtype=np.float32)
        out = mix @ self.basis + 0.05 * noise
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        if on_batch is not None:
            on_batch(len(texts))
        return out


def timed(work: Any) -> tuple[Any, float, float]:
    """(result, wall s, CPU s of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def child(pool: Path, directory: Path, batch: int, plans: bool) -> None:
    """Ingest, set statuses, export; print one JSON line of {phase: {wall, cpu}} and the counts."""
    from datetime import UTC, datetime

    from assay.core.config import Config
    from assay.core.records import Status
    from assay.graphs.state import CurationState
    from assay.pipeline.export import export_session
    from assay.pipeline.intake.stream import ingest_files
    from assay.session.runtime import Runtime
    from assay.session.session import Session

    runtime = Runtime(clock=lambda: datetime.now(UTC), new_id=lambda: "bench", env={"ASSAY_HOME": str(directory / "home")})
    session = Session.open(directory / "session", runtime, Config(), create=True)
    session.embedder_factory = lambda settings, env: StandInEmbedder()  # the store is built as a session builds it
    phases: dict[str, dict[str, float]] = {}
    report, wall, cpu = timed(lambda: ingest_files(session, [pool], skip_invalid=True, max_record_bytes=16_000_000,
                                                   batch_size=batch))
    phases["ingest"] = {"wall": wall, "cpu": cpu}

    def statuses() -> Any:
        ids = [row[0] for row in session.conn.execute("SELECT id FROM samples ORDER BY rowid")]
        session.samples.set_status(ids[: len(ids) // 2], Status.SELECTED, None)
        session.samples.set_status(ids[len(ids) // 2 : len(ids) // 2 + len(ids) // 10], Status.DROPPED, "bench:dropped")
        return session.samples.counts()

    counts, wall, cpu = timed(statuses)
    phases["status"] = {"wall": wall, "cpu": cpu}
    written, wall, cpu = timed(lambda: export_session(session, CurationState(), write_report=lambda s, st, p: p))
    phases["export"] = {"wall": wall, "cpu": cpu}
    lines = {name: sum(1 for _ in Path(written[name]).open()) for name in ("curated", "rejected", "lineage")}
    if plans:
        for name, sql in PLANS.items():
            detail = "; ".join(row[3] for row in session.conn.execute("EXPLAIN QUERY PLAN " + sql))
            print(f"plan  {name}: {detail}", file=sys.stderr)
    session.close()
    print(json.dumps({"phases": phases, "added": report.added, "repeats": sum(f.repeats for f in report.files),
                      "counts": counts, "lines": lines}))


def run_child(command: list[str], timeout: float) -> tuple[float, float, int, str]:
    """(wall s, CPU s, peak RSS bytes, stdout) of one subprocess (its own rusage, from os.wait4)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=sys.stderr, cwd=ROOT, text=True)
        status, usage = _wait(proc, started + timeout)
        out.seek(0)
        text = out.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{text[-3000:]}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, text


def _wait(proc: subprocess.Popen, deadline: float) -> tuple[int, Any]:
    """The child's exit status and rusage; killed past the deadline."""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise TimeoutError(f"{proc.args} ran past its time limit")
        time.sleep(0.2)


def exponent(n1: int, t1: float, n2: int, t2: float) -> float:
    """Growth exponent k in t ~ N^k between two sizes."""
    return math.log(t2 / t1) / math.log(n2 / n1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,100k")
    parser.add_argument("--pool-dir", type=Path, default=Path("/tmp/assay_scale"))
    parser.add_argument("--dup-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=2000, help="records per ingest batch ([store] ingest_batch)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--plans", action="store_true", help="print the query plans of the per-sample queries")
    args = parser.parse_args(argv)
    results: list[tuple[int, dict[str, Any]]] = []
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        pool = args.pool_dir / f"pool_{POOL_VERSION}_{size}_d{args.dup_rate}_s{args.seed}.jsonl"
        if not pool.exists():
            args.pool_dir.mkdir(parents=True, exist_ok=True)
            write_pool(pool, size, args.dup_rate, args.seed)
        with tempfile.TemporaryDirectory(prefix="bench_session_") as scratch:
            command = [sys.executable, __file__, "_child", str(pool), scratch, str(args.batch), str(int(args.plans))]
            wall, cpu, rss, text = run_child(command, args.timeout)
        report = json.loads(text.strip().splitlines()[-1])
        report.update(wall=wall, cpu=cpu, rss=rss)
        results.append((size, report))
        print(f"{size}: {json.dumps(report)}", flush=True)
    print_table(results)


def print_table(results: list[tuple[int, dict[str, Any]]]) -> None:
    """One Markdown row per size and phase, with the exponent against the size before."""
    print("| samples | phase | wall s | CPU s | samples/s (wall) | peak RSS (MB) | exponent (CPU) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for i, (size, report) in enumerate(results):
        for phase in (*PHASES, "process"):
            row = report["phases"].get(phase) or {"wall": report["wall"], "cpu": report["cpu"]}
            exp = "-"
            if i:
                before_size, before = results[i - 1]
                old = before["phases"].get(phase) or {"cpu": before["cpu"]}
                exp = f"{exponent(before_size, old['cpu'], size, row['cpu']):.2f}"
            rss = f"{report['rss'] / 1e6:,.0f}" if phase == "process" else ""
            print(f"| {size:,} | {phase} | {row['wall']:.1f} | {row['cpu']:.1f} | {size / row['wall']:,.0f} | {rss} | {exp} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
    else:
        main()
