"""Benchmark: LLM-free screening (heuristics + exact + MinHash) at scale, stage by stage.

    python evals/bench_scale.py [--sizes 10k,100k] [--dup-rate 0.2] [--seed 0] [--pool-dir /tmp/assay_scale]
                                [--no-cli] [--no-stages] [--timeout 3600] [--engine local,memory,ray]
                                [--workers N] [--batch-size N] [--ray-nodes 1,2] [--embed]
    python evals/bench_scale.py pool --size 1M --out pool.jsonl   # only write a pool (evals/scale_pool.py)

For each size it writes (or reuses) a synthetic pool (`evals/scale_pool.py`), then runs, each
in its own subprocess so that the peak RSS is that run's alone (os.wait4's ru_maxrss):

  cli      `assay score POOL --no-embed --dedup exact,minhash -o OUT --engine E`: the code path users run,
           one row per `--engine` choice (local: the streaming engine; ray; memory: the in-memory
           engine that `assay score` ran before, called in a child process). The ray rows run on
           simulated clusters of `--ray-nodes` nodes (evals/bench_scale_ray.py). With `--embed` the
           rows score with embeddings (no --no-embed; the shared embedding cache off, so every row
           encodes every text): local embeds in the command's process, ray on Ray actors
           (pipeline/engine/ray_embed.py), the screening on this machine in both: the Ray overhead.
  stages   the same services timed one by one, in one process: read/parse (`read_inputs`),
           heuristics, exact, minhash (run_stages over the screening stages, exact and MinHash
           as two Dedup stages so each is timed alone), injection flags, write (`write_scored`).

It prints wall seconds and samples/s per row, CPU seconds (per stage; for a CLI row, of all its
processes, workers included) and CPU ms per sample, peak RSS, and the growth exponent between
consecutive sizes, log(t2/t1) / log(n2/n1) (1.0 = linear). Goals (issue 14, 2 cores): 1M in
<= 15 min (about 1,100 samples/s), peak RSS <= 4 GB at 1M, exponent <= 1.1.
A run past --timeout is killed and reported as such.
"""

from __future__ import annotations

import argparse
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

from scale_pool import POOL_VERSION, main as pool_main, parse_size, write_pool  # noqa: E402

STAGE_ROWS = ("read", "heuristics", "exact", "minhash", "injection", "write")


def pool_path(pool_dir: Path, size: int, dup_rate: float, seed: int) -> Path:
    """The pool file for these parameters, written once and reused (the generator's version is in the name)."""
    path = pool_dir / f"pool_{POOL_VERSION}_{size}_d{dup_rate}_s{seed}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        stats = write_pool(path, size, dup_rate, seed)
        print(f"wrote {path} in {time.perf_counter() - started:.1f} s: {stats.describe(dup_rate)}", flush=True)
    return path


def _tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (user + system) so far of `root` and every process below it, from /proc (Linux; {} elsewhere)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while it was read
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, todo = {}, [root]
    while todo:
        parent = todo.pop()
        tree[parent] = cpu.get(parent, 0.0)
        todo.extend(pid for pid, ppid in parents.items() if ppid == parent and pid not in tree)
    return tree


def run_child(command: list[str], timeout: float) -> tuple[float, int, str, bool, float]:
    """(wall seconds, peak RSS in bytes, stdout, timed out?, CPU seconds) of one subprocess.

    CPU seconds: the last sample (every 0.2 s) of the child and of every process below it (worker
    processes, a fork server's workers): slightly under the true figure, by what each process
    spent after its last sample."""
    started = time.perf_counter()
    cpu: dict[int, float] = {}
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, text=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            cpu.update(_tree_cpu(child.pid))
            if time.perf_counter() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.2)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    timed_out = wall > timeout
    if child.returncode and not timed_out:
        raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}):\n{text[-3000:]}")
    return wall, usage.ru_maxrss * 1024, text, timed_out, sum(cpu.values())  # Linux reports ru_maxrss in KiB


def stages_child(pool: Path, out: Path) -> None:
    """Time each service on `pool` in this process; print one JSON line of {stage: seconds}."""
    from assay.core.config_sources import load_config
    from assay.pipeline.intake.ingest import read_inputs
    from assay.pipeline.screen.scored_output import injection_flags, write_scored
    from assay.pipeline.screen.scoring import dedup_options, heuristic_screen
    from assay.tools.dedup import Dedup
    from assay.tools.screen import Stage, run_stages

    config = load_config(None, env=os.environ, overrides={})
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds: on a loaded machine, wall time says more about the neighbours

    def cpu_timed(name: str, run: Any) -> Any:
        def timed(batch: Any) -> Any:
            started = time.process_time()
            verdicts = run(batch)
            cpu[name] = time.process_time() - started
            return verdicts
        return timed

    started, started_cpu = time.perf_counter(), time.process_time()
    read = read_inputs([pool], skip_invalid=False, max_record_bytes=int(config.store.max_record_mb * 1e6))
    seconds["read"], cpu["read"] = time.perf_counter() - started, time.process_time() - started_cpu
    options = dedup_options(config.screen)
    stages = [Stage("heuristics", cpu_timed("heuristics", heuristic_screen(config.screen.heuristics))),
              Stage("exact", cpu_timed("exact", Dedup(("exact",), seed=config.llm.seed, **options))),
              Stage("minhash", cpu_timed("minhash", Dedup(("minhash",), seed=config.llm.seed, **options)))]
    result = run_stages(read.samples, stages)
    seconds.update({s.name: s.seconds for s in result.stages})
    started, started_cpu = time.perf_counter(), time.process_time()
    injection = injection_flags(read.samples)
    seconds["injection"], cpu["injection"] = time.perf_counter() - started, time.process_time() - started_cpu
    started, started_cpu = time.perf_counter(), time.process_time()
    write_scored(out, result, read.files[0].shape, {}, read.records, injection)
    seconds["write"], cpu["write"] = time.perf_counter() - started, time.process_time() - started_cpu
    dropped = {s.name: s.dropped for s in result.stages}
    print(json.dumps({"seconds": seconds, "cpu": cpu, "dropped": dropped, "samples": len(read.samples)}))


def measure(size: int, pool: Path, args: argparse.Namespace) -> dict[str, dict]:
    """The rows for one pool size: {row name: {seconds, rss, ...}}."""
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as scratch:
        if not args.no_stages:
            wall, rss, text, timed_out, _ = run_child([sys.executable, __file__, "_stages", str(pool), f"{scratch}/s.jsonl"],
                                                   args.timeout)
            if timed_out:
                rows["stages (all)"] = {"seconds": wall, "rss": rss, "timed_out": True}
            else:
                report = json.loads(text.strip().splitlines()[-1])
                for name in STAGE_ROWS:
                    rows[name] = {"seconds": report["seconds"][name], "cpu": report["cpu"].get(name, 0.0),
                                  "dropped": report["dropped"].get(name)}
                rows["stages (process)"] = {"seconds": wall, "rss": rss}
        if not args.no_cli:
            for engine in args.engine.split(","):
                if engine == "ray" and args.ray_nodes != "0":
                    rows.update(ray_rows(pool, Path(scratch), args))
                    continue
                name, command = engine_row(engine, pool, Path(scratch), args)
                wall, rss, _, timed_out, cpu = run_child(command, args.timeout)
                rows[name] = {"seconds": wall, "rss": rss, "timed_out": timed_out, "cpu": cpu}
    for row in rows.values():
        row["rate"] = size / row["seconds"] if row["seconds"] else float("nan")
    return rows


def engine_row(engine: str, pool: Path, scratch: Path, args: argparse.Namespace) -> tuple[str, list[str]]:
    """The row name and command of one `--engine` choice: the CLI on the streaming engine (local or ray),
    or `memory`, the in-memory engine (pipeline/screen/files.py run_score) that the CLI used before it."""
    if engine == "memory":
        return "in-memory engine (run_score)", [sys.executable, __file__, "_memory", str(pool), f"{scratch}/mem.jsonl"]
    if engine not in ("local", "ray"):
        raise SystemExit(f"--engine: {engine!r} is not one of local, memory, ray")
    assay = str(Path(sys.executable).with_name("assay"))
    command = [assay, "score", str(pool), *([] if args.embed else ["--no-embed"]), "--dedup", "exact,minhash",
               "-o", f"{scratch}/{engine}.jsonl", "--engine", engine, "--batch-size", str(args.batch_size)]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.embed:
        return f"assay score (embeddings) --engine {engine}", command
    return f"assay score --no-embed --engine {engine} (workers {args.workers or os.cpu_count()})", command


def ray_rows(pool: Path, scratch: Path, args: argparse.Namespace) -> dict[str, dict]:
    """`--engine ray` on a simulated cluster of each `--ray-nodes` count (evals/bench_scale_ray.py), the same
    CPUs in all. Seconds and CPU seconds are the command's alone, from its launch to its exit (the cluster is
    up before it, as a user's is; its start is reported apart): the CPU of every process, the driver's and the
    cluster's (GCS, raylets, workers). No RSS: the work runs in Ray's worker processes, not in one child."""
    cpus = args.workers or os.cpu_count() or 1
    rows: dict[str, dict] = {}
    for nodes in (int(n) for n in args.ray_nodes.split(",")):
        command = [sys.executable, str(ROOT / "evals" / "bench_scale_ray.py"), str(nodes), str(cpus), str(pool),
                   f"{scratch}/ray{nodes}.jsonl", "--batch-size", str(args.batch_size), *(["--embed"] if args.embed else [])]
        wall, _, text, timed_out, _ = run_child(command, args.timeout)
        flag = "(embeddings)" if args.embed else "--no-embed"
        name = f"assay score {flag} --engine ray ({nodes} simulated node{'s' if nodes > 1 else ''}, {cpus} CPUs)"
        if timed_out:
            rows[name] = {"seconds": wall, "timed_out": True}
        else:
            report = json.loads(text.strip().splitlines()[-1])
            rows[name] = {key: report[key] for key in ("seconds", "cpu", "driver_cpu", "startup", "startup_cpu")}
    return rows


def memory_child(pool: Path, out: Path) -> None:
    """The in-memory engine on `pool`, as `assay score --no-embed` ran before the streaming engine."""
    from assay.core.config_sources import load_config
    from assay.pipeline.screen.files import run_score
    from assay.session.session import Runtime

    config = load_config(None, env=os.environ, overrides={})
    run_score(pool, out, config=config, runtime=Runtime(env=dict(os.environ)), session_dir=None, skip_invalid=False,
              methods=("exact", "minhash"), decontam=(), ifd=False, ifd_model=None, embed=False, clusters=None)


def exponent(n1: int, t1: float, n2: int, t2: float) -> float:
    """Growth exponent k in t ~ N^k between two sizes."""
    return math.log(t2 / t1) / math.log(n2 / n1)


def print_table(results: dict[int, dict[str, dict]]) -> None:
    sizes = sorted(results)
    print(f"\n| row | {' | '.join(f'{n:,} s' for n in sizes)} | {' | '.join(f'{n:,} samples/s' for n in sizes)} "
          f"| CPU s | CPU ms/sample | peak RSS (MB) | exponent |")
    print("| --- |" + " ---: |" * (2 * len(sizes) + 4))
    names = list(dict.fromkeys(name for n in sizes for name in results[n]))
    for name in names:
        cells = [results[n].get(name) for n in sizes]
        secs = [f"{c['seconds']:.1f}{' (killed)' if c.get('timed_out') else ''}" if c else "-" for c in cells]
        rates = [f"{c['rate']:,.0f}" if c else "-" for c in cells]
        rss = "/".join(f"{c['rss'] / 1e6:,.0f}" for c in cells if c and "rss" in c) or "-"
        cpu = "/".join(f"{c['cpu']:.1f}" for c in cells if c and "cpu" in c) or "-"
        per = "/".join(f"{c['cpu'] * 1000 / n:.2f}" for n, c in zip(sizes, cells) if c and "cpu" in c) or "-"
        pairs = [(n, c) for n, c in zip(sizes, cells) if c and not c.get("timed_out") and c["seconds"] > 0]
        exp = (f"{exponent(pairs[-2][0], pairs[-2][1]['seconds'], pairs[-1][0], pairs[-1][1]['seconds']):.2f}"
               if len(pairs) >= 2 else "-")
        print(f"| {name} | {' | '.join(secs)} | {' | '.join(rates)} | {cpu} | {per} | {rss} | {exp} |")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_stages"]:
        return stages_child(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["_memory"]:
        return memory_child(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["pool"]:
        return pool_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated pool sizes: 10k,100k,1M")
    parser.add_argument("--dup-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool-dir", type=Path, default=Path(tempfile.gettempdir()) / "assay_scale")
    parser.add_argument("--no-cli", action="store_true", help="skip the `assay score` row")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage rows")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run before it is killed")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--engine", default="local", help="comma-separated CLI rows: local (the streaming engine), "
                                                          "ray, memory (the in-memory engine)")
    parser.add_argument("--workers", type=int, default=None, help="--workers of the streaming engine")
    parser.add_argument("--ray-nodes", default="1,2", help="the ray rows: simulated clusters of these node counts "
                                                          "sharing --workers CPUs; 0: a Ray the command starts itself")
    parser.add_argument("--batch-size", type=int, default=5000, help="--batch-size of the streaming engine")
    parser.add_argument("--embed", action="store_true", help="CLI rows with embeddings (the cache off): the ray rows "
                                                             "embed on Ray actors")
    args = parser.parse_args(argv)
    if args.embed:  # every row encodes every text: a row answered by the cache would time nothing
        os.environ["ASSAY_STORE__EMBEDDING_CACHE"] = "off"
    results: dict[int, dict[str, dict]] = {}
    for size in sorted(parse_size(s) for s in args.sizes.split(",")):
        pool = pool_path(args.pool_dir, size, args.dup_rate, args.seed)
        results[size] = measure(size, pool, args)
        print(f"{size:,}: " + json.dumps(results[size]), flush=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({str(n): r for n, r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
