"""Eval: bias-cue removal rate of the repair on alpaca_5000's planted cue (evals/eval_bias_cues.py's pool).

    python evals/eval_bias_cue_repair.py --model embedded --n 5     # the embedded SmolLM2 (slow, weak)
    python evals/eval_bias_cue_repair.py --model dry-run --n 200    # the placeholder model (no LLM)
    python evals/eval_bias_cue_repair.py --model openai/gpt-4o-mini --n 50

The cue is the one the detector builds for the plant (the candidate carried by the same responses,
Jaccard >= 0.9); the samples are the first `--n` carriers of the AlpaGasus-label plant. Each goes
through `pipeline/repair/cues.py` in a scratch session exactly as `assay cues repair` runs it: the
rewriter, then the checks (cue gone, cosine, pairwise judge both orders, claim check). Printed:
attempts, the rewriter's raw removal rate (the cue gone from the rewrite, whatever the other
checks say), the kept rate (every check passed), and the drops by reason; wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assay.core.bias_cue import Cue
from assay.core.config import Config, Models
from assay.core.formats import record_to_sample
from assay.core.recipe_cues import CueSettings
from assay.pipeline.repair.cues import run_cue_repairs
from assay.session.bias_cues import CueFinding
from assay.session.session import Runtime, Session
from assay.tools.bias_cue_candidates import candidates

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: the detection eval beside it
from eval_bias_cues import planted_pool  # noqa: E402

GONE = ("low_cosine", "judge_failed", "judge_prefers_original", "claims_failed", "claims_dropped", "kept")


def planted_cue(texts: list[str], planted: np.ndarray) -> Cue:
    """The detector's candidate cue that marks the planted responses (Jaccard >= 0.9), longest first."""
    best = None
    for candidate in candidates(texts):
        carried = np.array([candidate.cue.present(t) for t in texts])
        jaccard = (carried & planted).sum() / max((carried | planted).sum(), 1)
        if jaccard >= 0.9 and (best is None or len(candidate.cue.text) > len(best.text)):
            best = candidate.cue
    if best is None:
        raise SystemExit("no candidate marks the planted responses")
    return best


def cpu() -> float:
    """CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def repair(samples: list, cue: Cue, model: str, folder: Path) -> dict:
    """One cue repair round over `samples` in a scratch session; the attempts' reasons and the calls."""
    config = Config(models=Models(default=None if model in ("embedded", "dry-run") else model),
                    dry_run=model == "dry-run")
    session = Session.open(folder / "session", Runtime(), config, create=True)
    try:
        session.store.add(samples, round=0)
        finding = CueFinding(cue=cue, outcome="kept", effect=0.0, p=0.0, adjusted_p=0.0, prevalence=1.0,
                             n=len(samples))
        report = await run_cue_repairs(session, [finding], CueSettings(max_repairs=len(samples)), round=1, review=True)
        rows = session.conn.execute("SELECT reason FROM decisions WHERE agent = 'cue_repair'").fetchall()
        reasons = [r["reason"].split(":")[0] for r in rows]
        calls = session.conn.execute("SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0)"
                                     " FROM llm_calls").fetchone()
        return {"reasons": reasons, "calls": calls[0], "tokens": calls[1], "budget": report.budget_spent}
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dry-run", help="embedded | dry-run | a litellm model name")
    parser.add_argument("--n", type=int, default=5, help="planted samples to repair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    wall, cpu0 = time.perf_counter(), cpu()
    pool = planted_pool(args.seed)
    texts = pool.texts(pool.planted)
    cue = planted_cue(texts, pool.planted)
    chosen = [i for i in np.flatnonzero(pool.planted)][: args.n]
    samples = [record_to_sample({**pool.records[i], "output": texts[i]}, "alpaca", source=f"alpaca_5000[{i}]")
               for i in chosen]
    print(f"cue: {cue.key()} (pattern {cue.pattern!r}); {len(samples)} carriers; model {args.model}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        found = asyncio.run(repair(samples, cue, args.model, Path(folder)))
    seconds = time.perf_counter() - started
    reasons = found["reasons"]
    n = len(reasons) or 1
    gone = sum(r in GONE for r in reasons)
    kept = reasons.count("kept")
    by_reason = {r: reasons.count(r) for r in sorted(set(reasons))}
    print("\n| model | attempts | cue gone from the rewrite | kept (every check) | drops by reason | calls | seconds |")
    print("|---|---:|---:|---:|---|---:|---:|")
    print(f"| {args.model} | {len(reasons)} | {gone} ({gone / n:.0%}) | {kept} ({kept / n:.0%}) | "
          f"{', '.join(f'{r} {c}' for r, c in by_reason.items() if r != 'kept') or '-'} | {found['calls']} | "
          f"{seconds:.0f} |")
    if found["budget"]:
        print(f"stopped: {found['budget']}")
    print(f"\ntotal: {time.perf_counter() - wall:.1f} s wall, {cpu() - cpu0:.1f} s CPU (machine shared, loaded)")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "cue": cue.key(), **found, "seconds": seconds}, indent=2))


if __name__ == "__main__":
    main()
