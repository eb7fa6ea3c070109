"""Eval: does token cleaning mask junk planted inside good responses, and leave the rest?

    python evals/eval_token_cleaning.py [--samples 60] [--mask-share 0.2] [--scope global|sample]
                                        [--reference M] [--base M] [--device cpu|cuda] [--seed 0]

Takes good alpaca_5000 responses (a few sentences long), plants one junk span inside each, at a
sentence boundary near the middle, rotating three kinds:
- boilerplate: a stock assistant sentence ("As an AI language model, ...");
- filler: one phrase repeated ("and so on and so on ...");
- pasted: a paragraph of another sample's response, unrelated to this prompt.
Then scores every response token with `assay tokens`' scorer (default: the embedded SmolLM2, the
base being the same model without the instruction) and cuts at --mask-share. Per kind it prints the
share of planted tokens masked, the share of clean tokens masked, the AUROC of the (negated) token
score for planted against clean, and beside them a random mask at the same overall share.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"
KINDS = ("boilerplate", "filler", "pasted")
BOILERPLATE = ("As an AI language model, I am always happy to help with questions like this one. "
               "I hope this helps, and please let me know if you have any other questions! ")
FILLERS = ("and so on and so on and so on and so on and so on and so on and so on and so on. ",
           "Basically, basically, basically, basically, basically, basically, basically, basically. ",
           "etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. etc. ")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    both = np.concatenate([pos, neg])
    for value in np.unique(both):  # average ranks over ties
        tied = both == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def good_records(path: Path, n: int, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """`n` records with a response of several sentences (the hosts) and others to paste from."""
    records = json.loads(path.read_text())
    fit = [r for r in records if 250 <= len(r["output"]) <= 900 and len(SENTENCE_END.split(r["output"])) >= 3]
    order = rng.permutation(len(fit))
    return [fit[i] for i in order[:n]], [fit[i] for i in order[n : 2 * n]]


def plant(text: str, junk: str) -> tuple[str, tuple[int, int]]:
    """`text` with `junk` inserted at the sentence boundary nearest its middle; the junk's span."""
    cuts = [m.end() for m in SENTENCE_END.finditer(text)]
    at = min(cuts, key=lambda c: abs(c - len(text) / 2))
    return text[:at] + junk + text[at:], (at, at + len(junk))


def junk_for(kind: str, k: int, donor: dict) -> str:
    """The planted text of one kind; `pasted` takes the donor response's first sentences (~200 chars)."""
    if kind == "boilerplate":
        return BOILERPLATE
    if kind == "filler":
        return FILLERS[k % len(FILLERS)]
    sentences, pasted = SENTENCE_END.split(donor["output"].strip()), ""
    for sentence in sentences:
        if len(pasted) >= 180:
            break
        pasted += sentence + " "
    return pasted


def build(hosts: list[dict], donors: list[dict]) -> tuple[list, list[tuple[str, tuple[int, int]]]]:
    """The planted samples and, per sample, its junk kind and span."""
    from assay.core.formats import record_to_sample

    samples, planted = [], []
    for k, (host, donor) in enumerate(zip(hosts, donors)):
        kind = KINDS[k % len(KINDS)]
        text, span = plant(host["output"], junk_for(kind, k // len(KINDS), donor))
        samples.append(record_to_sample({**host, "output": text}, "alpaca", source=f"planted[{k}]"))
        planted.append((kind, span))
    return samples, planted


def table(masks: list, planted: list, share: float, rng: np.random.Generator) -> list[dict]:
    """Per kind and overall: planted and clean tokens masked, AUROC, and a random mask's shares."""
    rows = []
    per = []
    for mask, (kind, (a, b)) in zip(masks, planted):
        starts = np.array([t.start for t in mask.tokens])
        ends = np.array([t.end for t in mask.tokens])
        inside = (starts >= a) & (ends <= b)  # a token straddling the seam counts as clean
        per.append((kind, inside, np.array([t.score for t in mask.tokens]), np.array([t.masked for t in mask.tokens])))
    overall = np.concatenate([m for _, _, _, m in per]).mean()
    for kind in (*KINDS, "all"):
        chosen = [p for p in per if kind in ("all", p[0])]
        inside = np.concatenate([p[1] for p in chosen])
        scores = np.concatenate([p[2] for p in chosen])
        masked = np.concatenate([p[3] for p in chosen])
        random = rng.random(len(masked)) < overall
        rows.append({"kind": kind, "samples": len(chosen), "planted": int(inside.sum()), "clean": int((~inside).sum()),
                     "planted_masked": float(masked[inside].mean()), "clean_masked": float(masked[~inside].mean()),
                     "auroc": auroc(-scores, inside), "random_planted": float(random[inside].mean()),
                     "random_clean": float(random[~inside].mean())})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--mask-share", type=float, default=0.2)
    parser.add_argument("--scope", choices=("global", "sample"), default="global")
    parser.add_argument("--reference", default=None)
    parser.add_argument("--base", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from assay.core.recipe_tokens import TokenSettings
    from assay.pipeline.tokens.masks import build_scorer, mask_samples

    rng = np.random.default_rng(args.seed)
    hosts, donors = good_records(args.data, args.samples, rng)
    samples, planted = build(hosts, donors)
    settings = TokenSettings(reference=args.reference, base=args.base, mask_share=args.mask_share, scope=args.scope,
                             device=args.device)
    scorer = build_scorer(settings)
    scorer.reference.load()
    wall, cpu = time.perf_counter(), time.process_time()
    masks = mask_samples(samples, scorer, settings, tokenizer="reference")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = table(masks, planted, args.mask_share, rng)
    tokens = sum(m.total for m in masks)
    print(f"{len(samples)} alpaca_5000 responses with one planted span each; scorer: {scorer.name}")
    print(f"mask share {args.mask_share:g} ({args.scope}); {tokens:,} response tokens scored in {wall:.0f} s wall, "
          f"{cpu:.0f} s CPU ({tokens / wall:.0f} tokens/s, model load excluded)\n")
    print("| junk kind | samples | planted tokens | clean tokens | planted masked | clean masked | AUROC "
          "| random: planted masked | random: clean masked |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['samples']} | {r['planted']:,} | {r['clean']:,} | {r['planted_masked']:.1%} | "
              f"{r['clean_masked']:.1%} | {r['auroc']:.3f} | {r['random_planted']:.1%} | {r['random_clean']:.1%} |")


if __name__ == "__main__":
    main()
