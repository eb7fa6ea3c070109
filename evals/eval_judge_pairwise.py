"""Eval: pairwise judge accuracy on LLMBar (natural) and MT-Bench human preferences.

    python evals/eval_judge_pairwise.py [--llmbar ../shared/data/judge/llmbar_natural.json]
        [--mtbench ../shared/data/judge/mtbench_human_pairs.json] [--sets llmbar,mtbench]
        [--limit N] [--model MODEL | --dry-run] [--concurrency 8] [--session DIR]

Every pair goes through `judge_pair` (both orders; the orders disagree → tie). Accuracy is
agreement with the label, a tie counting ½; a failed pair counts as a tie in the accuracy
over all pairs (so failures cannot raise it) and is reported apart. Beside it: random
choice (50 %), "the longer response wins" on the same pairs, and, for LLMBar natural, the
published accuracies of GPT-4 (95.5 %) and ChatGPT (81.5 %) as judges (Zeng et al. 2023).
First-shown rate: the share of single-order verdicts (ties excluded) that pick the response
shown first; 50 % means no position bias.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from assay.core.concurrency import gather_cancelling
from assay.agents.base import AgentContext
from assay.agents.judge import PairwiseResult, judge_pair
from assay.pipeline.judge.pairs import Pair, pairwise_credit, read_pairs
from eval_session import open_eval_session

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "judge"
SETS = {"llmbar": DATA / "llmbar_natural.json", "mtbench": DATA / "mtbench_human_pairs.json"}
PUBLISHED = {"llmbar": "GPT-4 95.5 %, ChatGPT 81.5 % (LLMBar paper)",
             "mtbench": "GPT-4 vs humans 85 % on non-tie votes, human vs human 81 % (MT-Bench paper; other protocol)"}




async def judge_all(ctx: AgentContext, pairs: list[Pair], name: str) -> list[PairwiseResult]:
    """Judge every pair concurrently (the gateway bounds concurrency), showing progress on stderr."""
    done = 0

    async def one(pair: Pair) -> PairwiseResult:
        nonlocal done
        result = await judge_pair(ctx, pair.instruction, pair.response_a, pair.response_b, sample_ids=pair.ids)
        done += 1
        print(f"  {name}: {done}/{len(pairs)} pairs", file=sys.stderr, end="\r", flush=True)
        return result

    return list(await gather_cancelling(one(p) for p in pairs))


def longer_wins(pair: Pair) -> str:
    """The baseline: the longer response wins (equal lengths tie)."""
    a, b = len(pair.response_a), len(pair.response_b)
    return "a" if a > b else "b" if b > a else "tie"


def report(name: str, pairs: list[Pair], results: list[PairwiseResult], seconds: float) -> None:
    """Print one set's table."""
    labels = [p.record["label"] for p in pairs]
    judged = [(label, r) for label, r in zip(labels, results, strict=True) if r.ok]
    overall = sum(pairwise_credit(label, r.winner if r.ok else "tie") for label, r in zip(labels, results, strict=True))
    on_judged = sum(pairwise_credit(label, r.winner) for label, r in judged)
    ties = sum(r.winner == "tie" for _, r in judged)
    single = [v.winner for _, r in judged for v in (r.first_order, r.second_order) if v.winner != "tie"]
    first_shown = sum(w == "a" for w in single) / len(single) if single else None
    longer = sum(pairwise_credit(label, longer_wins(p)) for label, p in zip(labels, pairs, strict=True))
    n = len(pairs)
    print(f"\n{name}: {n} pairs ({sum(str(x) == '1' for x in labels)} labelled 1, {sum(str(x) == '2' for x in labels)} labelled 2)")
    print(f"{'':34} {'value':>8}   baseline")
    print(f"{'accuracy, all pairs (tie = ½)':34} {overall / n:>8.1%}   random 50.0 %; longer wins {longer / n:.1%}")
    if judged:
        print(f"{'accuracy, judged pairs':34} {on_judged / len(judged):>8.1%}   published: {PUBLISHED[name]}")
        print(f"{'tie rate':34} {ties / len(judged):>8.1%}   0 % for a position-consistent judge")
    if first_shown is not None:
        print(f"{'first-shown rate (single orders)':34} {first_shown:>8.1%}   50 % = no position bias")
    print(f"{'failed pairs':34} {n - len(judged):>8}")
    print(f"{'time':34} {seconds:>7.1f}s   {seconds / n:.2f} s per pair (2 calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llmbar", type=Path, default=SETS["llmbar"])
    parser.add_argument("--mtbench", type=Path, default=SETS["mtbench"])
    parser.add_argument("--sets", default="llmbar,mtbench", help="comma-separated: llmbar, mtbench")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each set")
    parser.add_argument("--model", default=None, help="litellm model (default: the embedded SmolLM2)")
    parser.add_argument("--dry-run", action="store_true", help="instant placeholder answers: checks the pipeline only")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--session", type=Path, default=None, help="session folder (reuses its cache on reruns)")
    args = parser.parse_args()
    paths = {"llmbar": args.llmbar, "mtbench": args.mtbench}
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    missing = [str(paths[s]) for s in chosen if not paths[s].is_file()]
    if missing:
        sys.exit(f"not found: {', '.join(missing)} (see ../shared/data/README.md)")
    session = open_eval_session(args, "judge-pairwise")
    ctx = AgentContext.for_session(session, "judge")
    print(f"pairwise judge eval, model {ctx.model}"
          + ("  [DRY RUN: placeholder verdicts; the figures only show that the pipeline runs]" if args.dry_run else ""))
    if ctx.model.startswith("assay-local/"):
        print("note: the embedded SmolLM2 has 135M parameters; it exercises the path, it does not judge well")
    for name in chosen:
        pairs = read_pairs(paths[name], limit=args.limit, max_record_bytes=16 * 10**6)
        started = time.perf_counter()
        results = asyncio.run(judge_all(ctx, pairs, name))
        report(name, pairs, results, time.perf_counter() - started)
    print(f"\ncalls traced in {session.dir}")
    session.close()


if __name__ == "__main__":
    main()
