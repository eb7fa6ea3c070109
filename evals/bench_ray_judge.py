"""Benchmark: judging through Ray actors (`--engine ray`) against the local OpenAI-wire server.

    python evals/bench_ray_judge.py [--calls 1000] [--concurrency 64] [--latency 0.1] [--actors 2]
                                    [--ray-address auto|HOST:PORT] [--data FILE]

The real judge agent (prompt, structured output, validation, trace, cache, budget) judges
`--calls` distinct samples of alpaca_5000 twice, each time in a fresh session: once with the
local engine, once with its calls sent from Ray actors. The server answers every call with
the same valid verdict after `--latency` seconds, in a child process so it does not compete
with the client for the GIL. Ideal throughput = concurrency / latency (640 calls/s for 64 and
100 ms). The actors' start (and their first litellm import) is kept out of the timing by one
warm-up call per actor; both engines must reach the same verdicts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench")  # before Ray starts: its workers inherit this environment
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca" / "alpaca_5000.json"
RUBRIC = ["accuracy", "helpfulness", "instruction_following", "clarity", "safety"]
VERDICT = json.dumps({"issues": [], "scores": {name: 4 for name in RUBRIC}, "overall": 4.0,
                      "rationale": "Correct, clear and complete."})


def serve(latency: float, urls: mp.Queue, stop: Any) -> None:
    from assay.testing.openai_server import OpenAIWireServer, Reply

    with OpenAIWireServer(latency_s=latency, default=Reply.text(VERDICT)) as server:
        urls.put(server.base_url)
        stop.wait()


def judge_all(engine: str, samples: list[Any], args: argparse.Namespace, base_url: str, work: Path) -> tuple[float, int]:
    """Seconds to judge every sample with `engine` (warm-up excluded), and how many verdicts came back."""
    from assay.agents.base import AgentContext
    from assay.agents.judge import judge_sample
    from assay.core.concurrency import gather_cancelling
    from assay.core.config import Config
    from assay.llm.transport import CompletionRequest
    from assay.session.session import Runtime, Session

    config = Config.model_validate({"models": {"default": "openai/bench"}, "llm": {
        "api_base": base_url, "concurrency": args.concurrency, "engine": engine, "ray_actors": args.actors,
        "ray_address": args.ray_address}})
    session = Session.open(work / engine, Runtime(env={"ASSAY_HOME": str(work / "home")}), config, create=True)
    try:
        ctx = AgentContext.for_session(session, "judge")
        transport = session.gateway.transport
        warm = CompletionRequest("openai/bench", [{"role": "user", "content": "warm-up"}])
        # Concurrent, so each actor gets one (the least loaded is picked): starts them and imports litellm.
        asyncio.run(gather_cancelling(transport(warm) for _ in range(args.actors if engine == "ray" else 1)))
        started = time.perf_counter()
        results = asyncio.run(gather_cancelling(judge_sample(ctx, sample) for sample in samples))
        seconds = time.perf_counter() - started
    finally:
        session.close()
    return seconds, sum(r.ok for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--ray-address", default=None, help="a running cluster; default: a local Ray")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    from assay.pipeline.intake.ingest import read_inputs

    samples = list({s.id: s for s in read_inputs([args.data], skip_invalid=True, max_record_bytes=16_000_000).samples}.values())[: args.calls]
    urls: mp.Queue = mp.Queue()
    stop = mp.Event()
    server = mp.Process(target=serve, args=(args.latency, urls, stop), daemon=True)
    server.start()
    base_url = urls.get(timeout=60)
    work = Path(tempfile.mkdtemp(prefix="assay-bench-ray-judge-"))
    try:
        runs = {engine: judge_all(engine, samples, args, base_url, work) for engine in ("local", "ray")}
    finally:
        stop.set()
        server.join(timeout=10)
    ideal = args.concurrency / args.latency
    print(f"\njudging through Ray actors · {len(samples)} judge calls · concurrency {args.concurrency} · "
          f"{args.actors} actors · server latency {args.latency * 1000:.0f} ms · {os.cpu_count()} CPUs")
    print(f"{'run':<36}{'seconds':>9}{'calls/s':>10}{'vs ideal':>10}")
    print(f"{'ideal (concurrency / latency)':<36}{len(samples) / ideal:>9.2f}{ideal:>10.0f}{'100 %':>10}")
    for engine, (seconds, ok) in runs.items():
        rate = len(samples) / seconds
        print(f"{f'--engine {engine} ({ok} verdicts)':<36}{seconds:>9.2f}{rate:>10.0f}{rate / ideal * 100:>9.0f} %")
    (local_s, _), (ray_s, _) = runs["local"], runs["ray"]
    print(f"Ray engine against local: {ray_s / local_s:.2f}x the wall time ({(ray_s - local_s) / len(samples) * 1e3:+.1f} ms a call)")


if __name__ == "__main__":
    main()
