"""Eval: claim verification on WiCE (349 Wikipedia claims with their cited web evidence).

    python evals/eval_verify.py [--data ../shared/data/claims/wice_claim_dev.jsonl] [--limit N]
        [--k 8 | --all-evidence] [--model MODEL | --dry-run] [--concurrency 8] [--session DIR]

Each claim goes through `verify_claims` with its evidence as reference passages and the
article sentences before it as context. WiCE evidence averages 120 sentences (8 k characters;
up to 1,131), more than a small model can read, so by default each claim gets the `k`
evidence sentences that share the most words with it, through the verifier's query-function
interface (`passages_for`); `--all-evidence` passes everything (for long-context models).

Label mapping. WiCE has supported / partially_supported / not_supported; the verifier says
supported / unsupported / unverifiable. A claim counts as supported only when every part is
(the verifier's own definition), so partially_supported belongs with not_supported: the binary
task is "supported" vs "not supported", and the baseline is the majority class (not supported).
The 3-way confusion of gold against predicted labels is printed too. A failed call counts
as a wrong answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

from assay.core.concurrency import gather_cancelling
from assay.agents.base import AgentContext
from assay.agents.verifier import LABELS, Verification, passages_for, verify_claims
from eval_session import open_eval_session

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "claims" / "wice_claim_dev.jsonl"
GOLD = ("supported", "partially_supported", "not_supported")
WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset("a an the of in on at to for and or but is are was were be been by with as from that this it its "
                 "he she they his her their has have had which who also".split())


def words(text: str) -> set[str]:
    """Content words, lowercased."""
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def overlap_query(evidence: list[str]):  # noqa: ANN201 - a QueryFn over one claim's evidence
    """A lexical retriever: sentences ranked by shared content words, rarer words weighing more."""
    bags = [words(s) for s in evidence]
    frequency = Counter(w for bag in bags for w in bag)

    def query(text: str, k: int) -> list[str]:
        wanted = words(text)
        scored = [(sum(math.log(1 + len(bags) / frequency[w]) for w in wanted & bag), i) for i, bag in enumerate(bags)]
        best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:k]
        return [evidence[i] for _, i in sorted(best, key=lambda s: s[1])]  # back in document order

    return query




async def verify_all(ctx: AgentContext, rows: list[dict], args: argparse.Namespace) -> list[Verification]:
    """One verification per claim, concurrently; progress on stderr."""
    done = 0

    async def one(row: dict) -> Verification:
        nonlocal done
        evidence = [s for s in row["evidence"] if s.strip()]
        passages = evidence if args.all_evidence else passages_for([row["claim"]], overlap_query(evidence), args.k)
        context = (row.get("meta") or {}).get("claim_context", "")[-args.context_chars :]
        result = await verify_claims(ctx, [row["claim"]], context=context, passages=passages,
                                     sample_ids=[(row.get("meta") or {}).get("id", "")])
        done += 1
        print(f"  {done}/{len(rows)} claims", file=sys.stderr, end="\r", flush=True)
        return result

    return list(await gather_cancelling(one(r) for r in rows))


def report(rows: list[dict], results: list[Verification], model: str, seconds: float) -> None:
    """Binary accuracy beside the majority class, and the 3-way confusion."""
    gold = [r["label"] for r in rows]
    predicted = [v.labels[0] if v.ok and v.labels else "failed" for v in results]
    n = len(rows)
    gold_yes = [g == "supported" for g in gold]
    pred_yes = [p == "supported" for p in predicted]
    correct = sum(g == p for g, p in zip(gold_yes, pred_yes, strict=True))
    majority_yes = sum(gold_yes) * 2 > n
    majority = sum(g == majority_yes for g in gold_yes)
    tp = sum(g and p for g, p in zip(gold_yes, pred_yes, strict=True))
    precision = tp / sum(pred_yes) if any(pred_yes) else 0.0
    recall = tp / sum(gold_yes) if any(gold_yes) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"WiCE claim verification: {n} claims, model {model}"
          + ("  [DRY RUN: placeholder labels; the figures only show that the pipeline runs]" if model == "dry-run" else ""))
    if model.startswith("assay-local/"):
        print("note: the embedded SmolLM2 has 135M parameters; it exercises the path, it does not verify well")
    print(f"gold: {dict(Counter(gold))}; partially_supported counts as not supported\n")
    print(f"{'supported vs not':26} {'model':>8} {'majority':>9}")
    print(f"{'accuracy':26} {correct / n:>8.1%} {majority / n:>9.1%}   (majority = always '{'supported' if majority_yes else 'not supported'}')")
    print(f"{'F1 of supported':26} {f1:>8.2f} {0.0 if not majority_yes else 2 * sum(gold_yes) / (n + sum(gold_yes)):>9.2f}")
    print(f"{'precision / recall':26} {precision:>4.2f} / {recall:.2f}")
    print(f"{'failed calls':26} {predicted.count('failed'):>8}")
    print(f"{'time':26} {seconds:>7.1f}s   {seconds / n:.2f} s per claim\n")
    columns = [*LABELS, "failed"]
    print(f"{'gold / predicted':22}" + "".join(f"{c:>14}" for c in columns))
    for g in GOLD:
        counts = Counter(p for gg, p in zip(gold, predicted, strict=True) if gg == g)
        print(f"{g:22}" + "".join(f"{counts[c]:>14}" for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N claims only")
    parser.add_argument("--k", type=int, default=8, help="evidence sentences retrieved per claim")
    parser.add_argument("--all-evidence", action="store_true", help="pass all the evidence, not the top k")
    parser.add_argument("--context-chars", type=int, default=600, help="article text before the claim, as context")
    parser.add_argument("--model", default=None, help="litellm model (default: the embedded SmolLM2)")
    parser.add_argument("--dry-run", action="store_true", help="instant placeholder answers: checks the pipeline only")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--session", type=Path, default=None, help="session folder (reuses its cache on reruns)")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found (see ../shared/data/README.md)")
    with args.data.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.limit]
    session = open_eval_session(args, "verify")
    ctx = AgentContext.for_session(session, "judge")
    started = time.perf_counter()
    results = asyncio.run(verify_all(ctx, rows, args))
    report(rows, results, ctx.model, time.perf_counter() - started)
    print(f"\ncalls traced in {session.dir}")
    session.close()


if __name__ == "__main__":
    main()
