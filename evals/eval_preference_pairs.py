"""Eval: how often a preference pair that assay would export prefers the right response.

    python evals/eval_preference_pairs.py [--sets llmbar,mtbench] [--limit N]
        [--model MODEL | --dry-run] [--concurrency 8] [--session DIR]

Every labelled pair of LLMBar (natural) and the MT-Bench human pairs goes through the same
pairwise path the curation uses to accept a repair (`judge_pair`: both orders, agreeing
orders win). A pair is exported only when both orders agree (`assay export`'s
`orders_disagree` filter); its chosen side is the winner. Reported per set:
  pair accuracy  exported pairs whose chosen side is the labelled one (what DPO trains on);
  yield          exported pairs / all pairs;
  single order   accuracy of the first order alone, every pair exported (what the filter buys);
and the "longer response wins" baseline on the same pairs. Any litellm model works with
`--model`; the default is the embedded SmolLM2-135M, which exercises the path but is weak.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from assay.agents.base import AgentContext
from assay.agents.judge import PairwiseResult
from assay.pipeline.judge.pairs import Pair, read_pairs
from eval_judge_pairwise import SETS, judge_all, longer_wins
from eval_session import open_eval_session


def exported(result: PairwiseResult) -> str | None:
    """The chosen side ('a' or 'b') of the pair assay would export, or None (failed, or the orders disagree)."""
    return result.winner if result.ok and result.winner in ("a", "b") else None


def scores(pairs: list[Pair], results: list[PairwiseResult]) -> dict[str, float | int | None]:
    """Pair accuracy, yield, single-order accuracy and the longer-wins baseline for one set."""
    labels = [{"1": "a", "2": "b"}[str(p.record["label"])] for p in pairs]
    chosen = [exported(r) for r in results]
    kept = [(c, label) for c, label in zip(chosen, labels, strict=True) if c is not None]
    single = [(r.first_order.winner, label) for r, label in zip(results, labels, strict=True)
              if r.first_order is not None and r.first_order.winner != "tie"]
    longer = [(longer_wins(p), label) for p, label in zip(pairs, labels, strict=True)]
    longer = [(w, label) for w, label in longer if w != "tie"]
    share = lambda rows: sum(w == label for w, label in rows) / len(rows) if rows else None  # noqa: E731
    return {"pairs": len(pairs), "exported": len(kept), "pair_accuracy": share(kept),
            "yield": len(kept) / len(pairs), "single_order": share(single), "longer_wins": share(longer),
            "failed": sum(not r.ok for r in results)}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


async def run_sets(ctx: AgentContext, names: list[str], limit: int | None) -> None:
    """Judge each set and print its row (wall and CPU seconds: the machine may be loaded)."""
    for name in names:
        pairs = read_pairs(SETS[name], limit=limit, max_record_bytes=16 * 10**6)
        wall, cpu = time.perf_counter(), time.process_time()
        results = await judge_all(ctx, pairs, name)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        s = scores(pairs, results)
        print(f"{name:10} {s['pairs']:>6} {s['exported']:>9} {pct(s['pair_accuracy']):>9} {pct(s['yield']):>7}"
              f" {pct(s['single_order']):>8} {pct(s['longer_wins']):>7} {s['failed']:>7} {wall:>7.1f} {cpu:>7.1f}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="llmbar,mtbench", help="comma-separated: llmbar, mtbench")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each set")
    parser.add_argument("--model", default=None, help="litellm model (default: the embedded SmolLM2)")
    parser.add_argument("--dry-run", action="store_true", help="placeholder answers: checks the pipeline only")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--session", type=Path, default=None, help="session folder (reuses its cache on reruns)")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETS]
    if unknown:
        sys.exit(f"--sets: unknown {', '.join(unknown)} (known: {', '.join(SETS)})")
    missing = [str(SETS[s]) for s in chosen if not SETS[s].is_file()]
    if missing:
        sys.exit(f"not found: {', '.join(missing)} (see ../shared/data/README.md)")
    session = open_eval_session(args, "preference-pairs")
    ctx = AgentContext.for_session(session, "judge")
    print(f"preference pair eval, model {ctx.model}" + ("  [DRY RUN: placeholder verdicts]" if args.dry_run else ""))
    print(f"{'set':10} {'pairs':>6} {'exported':>9} {'pair acc':>9} {'yield':>7} {'1 order':>8} {'longer':>7}"
          f" {'failed':>7} {'wall s':>7} {'cpu s':>7}")
    asyncio.run(run_sets(ctx, chosen, args.limit))  # one event loop: the gateway's semaphore is bound to it
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; calls traced in {session.dir}")
    session.close()


if __name__ == "__main__":
    main()
