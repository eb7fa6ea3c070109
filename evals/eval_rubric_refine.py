"""Eval: guideline refinement on alpaca_5000, with AlpaGasus membership as the human decision.

    python evals/eval_rubric_refine.py [--n 8] [--holdout 0.5] [--rounds 1] [--seed 0]
        [--model MODEL | --dry-run] [--concurrency 4] [--session DIR]

`--n` Alpaca samples (half in AlpaGasus `claude_t45`, the samples Claude rated >= 4.5 for
accuracy; half not) become expand review items "decided by a person": approved when the sample
is in claude_t45, rejected otherwise. `assay rubric refine`'s loop (assay/pipeline/rubric)
then runs on them: the judge's decisions under the default rubric (overall >= 3.5 keeps) are
compared with those labels on a held-out split, the rubric editor proposes edits from the
training disagreements, and a proposal is kept only if held-out agreement rises strictly.
Printed: agreement before and after per proposal, beside the majority-class baseline.

The default model is the embedded SmolLM2 (no key needed, about 16 tokens/s on CPU): it is
a weak judge and a weak editor, so the run shows the loop working end to end on real data in
a few minutes, not what a strong model gains. AlpaGasus membership is a noisy label (Claude's
accuracy score; it barely agrees with the helpfulness filter), so even a perfect rubric would
not reach 100 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

from assay.agents.base import AgentContext
from assay.core.records import Message, Sample
from assay.pipeline.plugins import judge_function
from assay.pipeline.rubric.refine import RefineOptions, refine
from assay.session.proposals import decide, propose, sample_payload
from eval_session import open_eval_session

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "alpaca"
LABEL = "alpagasus_claude_t45"


def key(record: dict) -> tuple[str, str, str]:
    """The stripped (instruction, input, output) triple records are matched on (data README)."""
    return (record["instruction"].strip(), record.get("input", "").strip(), record["output"].strip())


def labelled(n: int, seed: int) -> list[tuple[dict, bool]]:
    """`n` alpaca_5000 records, half in claude_t45 and half not, seeded."""
    pool = json.loads((DATA / "alpaca_5000.json").read_text())
    members = {key(r) for r in json.loads((DATA / "alpagasus_claude_t45.json").read_text())}
    rng = random.Random(seed)
    good = [r for r in pool if key(r) in members]
    rest = [r for r in pool if key(r) not in members and r["output"].strip()]
    chosen = [(r, True) for r in rng.sample(good, n // 2)] + [(r, False) for r in rng.sample(rest, n - n // 2)]
    rng.shuffle(chosen)
    return chosen


def as_sample(record: dict) -> Sample:
    """An Alpaca record as the user turn (instruction, then input) and the assistant's output."""
    ask = record["instruction"].strip() + (f"\n\n{record['input'].strip()}" if record.get("input", "").strip() else "")
    return Sample.create([Message(role="user", content=ask), Message(role="assistant", content=record["output"].strip())],
                         source="alpaca_5000", op="synth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--holdout", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--session", type=Path, default=None)
    args = parser.parse_args()
    session = open_eval_session(args, "rubric-refine")
    items = labelled(args.n, args.seed)
    clock = session.runtime.clock
    ids = {True: [], False: []}
    for k, (record, member) in enumerate(items):
        sample = as_sample(record)
        ids[member].append(propose(session.conn, clock, round=1, kind="expand", sample_id=sample.id,
                                   summary=f"alpaca sample {k}", payload=sample_payload(sample), auto_approve=False))
    decide(session.conn, clock, ids[True], "approved", by=LABEL)
    decide(session.conn, clock, ids[False], "rejected", by=LABEL)
    ctx = AgentContext.for_session(session, "judge")
    judge = judge_function(session.config.plugins, code_criterion=session.config.judge.code_criterion)
    options = RefineOptions(holdout=args.holdout, rounds=args.rounds, seed=args.seed, rank_pending=False,
                            out=session.dir / "refined_rubric.toml")
    started, cpu = time.monotonic(), time.process_time()
    report = asyncio.run(refine(session, ctx, ctx, judge, options))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    held = report.n_holdout
    held_ids = [r["item_id"] for r in session.conn.execute(
        "SELECT item_id FROM rubric_verdicts WHERE refinement_id = ? AND rubric = 'base' AND split = 'holdout'",
        (report.refinement_id,))]
    approved_held = sum(i in ids[True] for i in held_ids)
    majority = max(approved_held, held - approved_held) / held if held else 0.0
    calls = session.conn.execute("SELECT COUNT(*), SUM(outcome = 'cached') FROM llm_calls").fetchone()
    print(f"\nrubric refinement on alpaca_5000, label {LABEL} membership; model {ctx.model}")
    print(f"{args.n} decided items: {report.n_train} training, {held} held out (seed {args.seed}); "
          f"keep threshold {report.keep_threshold:g}")
    print(f"\n| rubric | criteria | held-out agreement | kept |\n| --- | --- | --- | --- |")
    print(f"| base (default) | {len(session.config.judge.rubric)} | {report.base_agreement:.3f} | - |")
    for p in report.proposals:
        after = "failed: " + (p.error or "") if p.agreement_after is None else f"{p.agreement_after:.3f}"
        names = ", ".join(c.name for c in p.rubric) if p.rubric else "-"
        print(f"| proposal {p.n} | {names} | {after} | {'yes' if p.kept else 'no'} |")
    print(f"| majority class baseline | - | {majority:.3f} | - |")
    print(f"\n{calls[0]} LLM calls ({calls[1] or 0} cached); {wall:.0f} s wall, {cpu:.0f} s CPU of this process"
          f" (the embedded model runs in it; the machine may be loaded)")
    print(f"fragment: {report.fragment or 'none (nothing kept)'}; session: {session.dir}", file=sys.stderr)
    session.close()


if __name__ == "__main__":
    main()
