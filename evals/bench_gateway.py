"""Benchmark: the gateway against the local OpenAI-wire server answering after 100 ms.

    python evals/bench_gateway.py [--calls 2000] [--concurrency 64] [--latency 0.1]

Three runs, same calls: bare litellm.acompletion (no gateway), the full gateway over
litellm and HTTP (structured output, validation, trace, cache, budget), and the gateway
over an instant in-process transport (its own work per call, no HTTP). The server runs
in a child process so it does not compete with the client for the GIL.
Ideal throughput = concurrency / latency (640 calls/s for 64 and 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

from assay.core.concurrency import gather_cancelling

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ANSWER = '{"score": 4, "reason": "correct and clear"}'


def serve(latency: float, urls: mp.Queue, stop: mp.Event) -> None:
    from assay.testing.openai_server import OpenAIWireServer, Reply

    with OpenAIWireServer(latency_s=latency, default=Reply.text(ANSWER)) as server:
        urls.put(server.base_url)
        stop.wait()


async def bare_litellm(base_url: str, calls: int, concurrency: int) -> float:
    import litellm

    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            await litellm.acompletion(model="openai/bench", api_base=base_url, api_key="sk-bench", max_retries=0,
                                      messages=[{"role": "user", "content": f"bare question {i}"}])

    started = time.perf_counter()
    await gather_cancelling(one(i) for i in range(calls))
    return time.perf_counter() - started


async def through_gateway(gateway, calls: int, tag: str) -> tuple[float, int]:  # noqa: ANN001
    from pydantic import BaseModel, Field

    class Verdict(BaseModel):
        score: int = Field(ge=1, le=5)
        reason: str

    async def one(i: int):  # noqa: ANN202
        return await gateway.complete(agent="bench", model="openai/bench", output_type=Verdict, prompt_version="bench/1",
                                      messages=[{"role": "user", "content": f"{tag} question {i}"}], sample_ids=[f"s{i}"])

    started = time.perf_counter()
    results = await gather_cancelling(one(i) for i in range(calls))
    return time.perf_counter() - started, sum(r.ok for r in results)


def make_gateway(base_url: str | None, concurrency: int, work: Path, name: str):  # noqa: ANN201
    from assay.core.config import Config
    from assay.llm.factory import build_gateway
    from assay.llm.transport import Completion
    from assay.session.session import Runtime, Session

    config = Config.model_validate({"llm": {"api_base": base_url, "concurrency": concurrency}})
    session = Session.open(work / name, Runtime(env={"ASSAY_HOME": str(work / "home")}), config, create=True)

    async def instant(request):  # noqa: ANN001, ANN202
        return Completion(ANSWER, 10, 5)

    gateway = build_gateway(config, session.trace, session.conn, transport=None if base_url else instant)
    if base_url:
        gateway.transport.api_key = "sk-bench"
    return gateway


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    urls: mp.Queue = mp.Queue()
    stop = mp.Event()
    server = mp.Process(target=serve, args=(args.latency, urls, stop), daemon=True)
    server.start()
    base_url = urls.get(timeout=60)
    work = Path(tempfile.mkdtemp(prefix="assay-bench-gw-"))
    try:
        import litellm  # noqa: F401  (import cost kept out of the timings)

        asyncio.run(bare_litellm(base_url, 64, args.concurrency))  # warm-up: connection pool, imports
        bare_s = asyncio.run(bare_litellm(base_url, args.calls, args.concurrency))
        http_s, http_ok = asyncio.run(through_gateway(make_gateway(base_url, args.concurrency, work, "http"), args.calls, "gw"))
        instant_s, instant_ok = asyncio.run(through_gateway(make_gateway(None, args.concurrency, work, "instant"), args.calls, "in"))
    finally:
        stop.set()
        server.join(timeout=10)
    ideal = args.concurrency / args.latency
    print(f"\ngateway benchmark · {args.calls} calls · concurrency {args.concurrency} · server latency {args.latency * 1000:.0f} ms · {os.cpu_count()} CPUs")
    print(f"{'run':<40}{'seconds':>9}{'calls/s':>10}{'vs ideal':>10}")
    print(f"{'ideal (concurrency / latency)':<40}{args.calls / ideal:>9.2f}{ideal:>10.0f}{'100 %':>10}")
    for name, seconds in (("bare litellm over HTTP", bare_s), (f"assay gateway over HTTP ({http_ok} ok)", http_s)):
        print(f"{name:<40}{seconds:>9.2f}{args.calls / seconds:>10.0f}{args.calls / seconds / ideal * 100:>9.0f} %")
    print(f"{f'assay gateway, instant transport ({instant_ok} ok)':<40}{instant_s:>9.2f}{args.calls / instant_s:>10.0f}")
    print(f"gateway's own work per call (instant transport): {instant_s / args.calls * 1e6:.0f} µs")
    print(f"gateway cost over bare litellm per call: {(http_s - bare_s) / args.calls * 1e6:+.0f} µs of wall time")


if __name__ == "__main__":
    main()
