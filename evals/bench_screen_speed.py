"""Benchmark: assay's LLM-free screen (heuristics + exact/MinHash dedup) beside Data-Juicer 1.6.1.

    python evals/bench_screen_speed.py [--data PATH] [--dj-python /tmp/djvenv/bin/python] [--np 2]

Both sides screen the same Alpaca file in the same run, one after the other, each in its own
subprocess (so "wall" includes interpreter start, imports, reading and, for Data-Juicer,
exporting the result):

  assay        read_inputs, then run_stages([heuristics, dedup(exact, minhash)]) in one
               process; "operators" is the stages' time, measured after a warm-up pass.
  Data-Juicer  dj-process with text_length_filter, character_repetition_filter,
               special_characters_filter, document_deduplicator and
               document_minhash_deduplicator (128 permutations), np processes; "operators"
               is its own "All OPs are done in" figure (per-op lines are parsed too).

Reading the table: samples/s = input samples / seconds; "speed-up" = Data-Juicer seconds /
assay seconds (> 1: assay is faster). Aim: >= 2x on operators. The drop counts show both did
comparable work, but the operators are NOT the same in semantics (assay: eight SFT-aware
heuristics, character-3-gram MinHash at Jaccard 0.8; Data-Juicer: generic web-text filters,
word-5-gram MinHash at 0.8), and assay runs in one process where Data-Juicer uses --np.

Data-Juicer is not an assay dependency; install it in its own venv (see DJ_INSTALL). Without
it, only the assay side runs. Timings are noisy on a shared machine: run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"
# aiohttp is imported by data_juicer but not declared; ray and scipy are otherwise installed
# by Data-Juicer's lazy loader (through uv, from the network) at import and at the MinHash op.
DJ_INSTALL = ('python -m venv /tmp/djvenv && /tmp/djvenv/bin/pip install "torch==2.13.*" '
              'py-data-juicer==1.6.1 aiohttp scipy ray')
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "RAY_USAGE_STATS_ENABLED": "0", "DO_NOT_TRACK": "1"}
RESULT_TAG = "ASSAY_RESULT "

DJ_RECIPE = """\
project_name: assay-bench
dataset_path: {data}
export_path: {out}
work_dir: {work}
np: {np}
text_keys: text
use_cache: false
open_tracer: false
open_monitor: false
open_insight_mining: false
process:
  - text_length_filter: {{min_len: 10}}
  - character_repetition_filter: {{rep_len: 10, max_ratio: 0.5}}
  - special_characters_filter: {{max_ratio: 0.25}}
  - document_deduplicator: {{lowercase: true}}
  - document_minhash_deduplicator: {{num_permutations: 128, jaccard_threshold: 0.8}}
"""


def assay_worker(data: Path) -> None:
    """Run inside the assay subprocess: time reading and the stages; print one JSON line."""
    from assay.pipeline.intake.ingest import read_inputs
    from assay.tools.dedup import Dedup
    from assay.tools.heuristics import HeuristicScreen
    from assay.tools.screen import Stage, run_stages

    def stages() -> list[Stage]:
        return [Stage("heuristics", HeuristicScreen()), Stage("dedup", Dedup(("exact", "minhash")))]

    started = time.perf_counter()
    samples = read_inputs([data], skip_invalid=False, max_record_bytes=16_000_000).samples
    read_s = time.perf_counter() - started
    run_stages(samples[:50], stages())  # warm-up: language profiles, lazy imports
    result = run_stages(samples, stages())
    drops: Counter[str] = Counter()
    for outcome in result.outcomes.values():
        if not outcome.keep:
            code = outcome.reason.split(":")[0]
            if code == "duplicate_of" and outcome.detail:
                code = f"duplicate ({outcome.detail.split()[0]})"
            drops[code] += 1
    print(RESULT_TAG + json.dumps({
        "samples": len(samples), "read_s": read_s, "kept": len(result.kept()), "drops": dict(drops),
        "stages": [{"name": s.name, "seen": s.seen, "dropped": s.dropped, "seconds": s.seconds}
                   for s in result.stages]}))


def run_assay(data: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--assay-worker", "--data", str(data)],
                          capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV})
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        sys.exit(f"assay side failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    found = json.loads(lines[-1][len(RESULT_TAG):])
    found["wall_s"] = wall
    found["ops_s"] = sum(s["seconds"] for s in found["stages"])
    return found


def dj_available(dj_python: str) -> str | None:
    """None when Data-Juicer imports in that interpreter, else why not."""
    if not Path(dj_python).is_file():
        return f"no interpreter at {dj_python}"
    proc = subprocess.run([dj_python, "-c", "import data_juicer.core, data_juicer.ops"],
                          capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV})
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["import failed"])[-1]
    return None


def run_dj(data: Path, dj_python: str, np_: int, tmp: Path) -> dict:
    records = json.loads(data.read_text(encoding="utf-8"))
    jsonl = tmp / "alpaca.jsonl"
    with jsonl.open("w", encoding="utf-8") as out:
        for r in records:
            text = "\n".join(p for p in (r.get("instruction", ""), r.get("input", ""), r.get("output", "")) if p)
            out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    recipe = tmp / "recipe.yaml"
    recipe.write_text(DJ_RECIPE.format(data=jsonl, out=tmp / "out" / "result.jsonl", work=tmp / "work", np=np_))
    dj_process = Path(dj_python).parent / "dj-process"
    command = ([str(dj_process)] if dj_process.is_file()
               else [dj_python, "-m", "data_juicer.tools.process_data"]) + ["--config", str(recipe)]
    log = tmp / "dj.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp,
                              env={**os.environ, **OFFLINE_ENV, "VIRTUAL_ENV": str(Path(dj_python).parents[1])})
    wall = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        sys.exit(f"Data-Juicer failed (rc {proc.returncode}); log {log}:\n" + "\n".join(text.splitlines()[-25:]))
    start = re.search(r"There are (\d+) sample\(s\) in the original dataset", text)
    left = int(start.group(1)) if start else len(records)
    ops = []
    for m in re.finditer(r"OP \[(\w+)\] Done in ([\d.]+)s\. Left (\d+) samples", text):
        ops.append({"name": m.group(1), "seconds": float(m.group(2)), "dropped": left - int(m.group(3))})
        left = int(m.group(3))
    total = re.search(r"All OPs are done in ([\d.]+)s", text)
    ops_s = float(total.group(1)) if total else (sum(o["seconds"] for o in ops) if ops else None)
    return {"samples": len(records), "wall_s": wall, "ops_s": ops_s, "ops": ops, "kept": left,
            "parsed": bool(total or ops)}


def fmt(x: float | None, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def report(assay: dict, dj: dict | None, np_: int) -> None:
    n = assay["samples"]
    print(f"\n{n} samples; assay: 1 process; Data-Juicer 1.6.1: np={np_}\n")
    print("assay stages" + " " * 22 + "seen  dropped  seconds")
    print(f"  {'read_inputs':30s} {n:6d}  {'':7s}  {assay['read_s']:7.2f}  (not in operators)")
    for s in assay["stages"]:
        print(f"  {s['name']:30s} {s['seen']:6d}  {s['dropped']:7d}  {s['seconds']:7.2f}")
    print("  drops: " + (", ".join(f"{k} {v}" for k, v in sorted(assay["drops"].items())) or "none"))
    if dj is not None:
        print("\nData-Juicer operators" + " " * 22 + "dropped  seconds")
        for o in dj["ops"]:
            print(f"  {o['name']:39s}  {o['dropped']:7d}  {o['seconds']:7.2f}")
        if not dj["parsed"]:
            print("  (no per-operator timings found in the log: wall time only)")
    rows = [("kept", str(assay["kept"]), str(dj["kept"]) if dj else "-", "")]
    for label, key in (("operators", "ops_s"), ("wall", "wall_s")):
        a, d = assay[key], dj[key] if dj else None
        rows.append((f"{label} (s)", fmt(a), fmt(d), ""))
        rows.append((f"{label} samples/s", fmt(n / a, ".0f"), fmt(n / d if d else None, ".0f"),
                     f"{d / a:.1f}x" if d else "-"))
    print(f"\n{'':22s} {'assay':>10s} {'Data-Juicer':>12s} {'speed-up':>9s}")
    for label, a, d, ratio in rows:
        print(f"{label:22s} {a:>10s} {d:>12s} {ratio:>9s}")
    print("\nspeed-up = Data-Juicer seconds / assay seconds; aim >= 2x on operators. "
          "Operators differ in semantics (see docstring).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dj-python", default="/tmp/djvenv/bin/python")
    parser.add_argument("--np", type=int, default=2, help="Data-Juicer processes")
    parser.add_argument("--assay-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data} (see ../shared/data/README.md)")
    if args.assay_worker:
        assay_worker(args.data)
        return
    print("running assay ...", flush=True)
    assay = run_assay(args.data)
    dj = None
    why = dj_available(args.dj_python)
    if why:
        print(f"Data-Juicer not usable ({why}); assay side only. Install it with:\n  {DJ_INSTALL}")
    else:
        print(f"running Data-Juicer (np={args.np}) ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench_dj_") as tmp:
            dj = run_dj(args.data, args.dj_python, args.np, Path(tmp))
    report(assay, dj, args.np)


if __name__ == "__main__":
    main()
