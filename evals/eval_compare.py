"""Eval: do `assay compare`'s measures separate what should differ, and only that?

    python evals/eval_compare.py [--n 500] [--permutations 200] [--seed 0] [--json out.json]

Four comparisons, each of A = a seeded sample of N Alpaca records against:
- Dolly: N Dolly records (another dataset: must differ clearly);
- Alpaca, reworded: a copy of A reworded deterministically (synonyms swapped, the first
  sentence of a longer answer moved to its end): must be much closer than Dolly, and its
  samples flagged as near copies of A by novelty (the distribution tests see the same data);
- Alpaca, other half: N other Alpaca records (same distribution, other samples): the noise floor;
- Alpaca, shuffled: A in another order: must come out the same (distances 0, p-values high).
The same code path as the CLI (`assay.pipeline.compare.compare_samples`), real MiniLM embeddings
through the shared cache. Prints one table row per comparison and the CPU seconds it took.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "alpaca"

# One-way swaps of common instruction and answer words for a near-synonym: meaning kept, wording changed.
SYNONYMS = {
    "explain": "describe", "generate": "produce", "write": "compose", "give": "provide", "list": "enumerate",
    "create": "make", "describe": "explain", "important": "significant", "help": "assist", "use": "employ",
    "big": "large", "small": "little", "good": "fine", "many": "numerous", "also": "additionally",
    "however": "nevertheless", "example": "instance", "examples": "instances", "show": "demonstrate",
    "find": "locate", "people": "individuals", "answer": "response", "sentence": "statement",
    "following": "given", "different": "distinct", "main": "primary", "way": "manner",
    "ways": "manners", "because": "since", "often": "frequently", "quickly": "rapidly", "buy": "purchase",
    "start": "begin", "end": "finish", "get": "obtain", "need": "require", "make": "build", "very": "highly",
    "about": "regarding", "can": "may", "should": "ought to", "provide": "supply", "suggest": "propose",
    "improve": "enhance", "identify": "pinpoint", "summarize": "sum up", "text": "passage", "word": "term",
    "words": "terms", "benefits": "advantages", "problem": "issue", "problems": "issues", "simple": "basic",
}
WORD = re.compile(r"[A-Za-z]+")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def reword(text: str) -> str:
    """Swap synonyms (keeping an initial capital), then move the first of three or more sentences to the end."""
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = SYNONYMS.get(word.lower())
        if new is None:
            return word
        return new[0].upper() + new[1:] if word[0].isupper() else new

    swapped = WORD.sub(swap, text)
    sentences = SENTENCE.split(swapped)
    if len(sentences) >= 3 and "\n" not in swapped:
        sentences = sentences[1:] + sentences[:1]
    return " ".join(sentences)


def reworded(record: dict) -> dict:
    """A record with its instruction, input and output reworded."""
    return {**record, **{k: reword(record[k]) for k in ("instruction", "output") if record.get(k)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every result here")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from assay.core.config import StoreSettings
    from assay.core.formats import record_to_sample
    from assay.pipeline.compare import compare_samples
    from assay.tools.compare_features import hash_sample
    from assay.tools.compare_sets import CompareSettings

    def samples(records: list[dict], name: str) -> list:
        """Distinct samples (the first of each id), as `assay compare` reads a file."""
        found = [record_to_sample(r, "alpaca", source=f"{name}[{i}]") for i, r in enumerate(records)]
        return list({s.id: s for s in reversed(found)}.values())[::-1]

    alpaca = samples(json.loads((DATA / "alpaca_5000.json").read_text()), "alpaca")
    dolly = samples(json.loads((DATA / "alpagasus_dolly_3k.json").read_text()), "dolly")
    both = hash_sample(alpaca, 2 * args.n, args.seed)
    a, other = both[:args.n], both[args.n:]
    copy = [record_to_sample(reworded(s.origin.record), "alpaca", source=s.source) for s in a]
    shuffled = a[:]
    random.Random(args.seed).shuffle(shuffled)
    cases = [("Dolly", hash_sample(dolly, args.n, args.seed)), ("Alpaca, reworded", copy),
             ("Alpaca, other half", other), ("Alpaca, shuffled", shuffled)]
    settings = CompareSettings(seed=args.seed, permutations=args.permutations)
    results = {}
    print(f"A = {args.n} Alpaca records (seed {args.seed}); {args.permutations} permutations; machine loaded (2 shared cores)")
    head = ("B", "tokens JS", "resp W/SD", "cluster JS", "dep. JS", "MMD²", "MMD p", "Fréchet", "prec.", "recall",
            "NN cos", "near copies", "self-BLEU B", "CPU s", "wall s")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name, b in cases:
        cpu, wall = time.process_time(), time.perf_counter()
        r = compare_samples(a, b, labels=("alpaca", name), store=StoreSettings(), env=dict(os.environ),
                            settings=settings, max_samples=None)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        results[name] = r
        m = {x["name"]: x for x in r["marginals"]}
        e = r["embedding"]
        row = (name, f"{m['tokens']['js']:.3f}", f"{m['response words']['wasserstein']:.3f}", f"{m['cluster']['js']:.3f}",
               f"{r['dependencies'][0]['joint_js']:.3f}", f"{e['mmd2']:.4f}", f"{e['mmd_p_value']:.3f}",
               f"{e['frechet']:.4f}", f"{e['precision']:.3f}", f"{e['recall']:.3f}",
               f"{r['novelty']['mean_nn_cosine']:.3f}", f"{r['novelty']['near_copy_share']:.1%}",
               f"{r['diversity']['b']['self_bleu']:.3f}", f"{cpu:.0f}", f"{wall:.0f}")
        print("| " + " | ".join(row) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    check(results)


def check(results: dict) -> None:
    """The eval's claims; prints each and exits 1 if one fails."""
    dolly, copy, other, same = (results[k]["embedding"] for k in ("Dolly", "Alpaca, reworded", "Alpaca, other half",
                                                                   "Alpaca, shuffled"))
    claims = [
        ("Dolly differs (MMD p < 0.01)", dolly["mmd_p_value"] < 0.01),
        ("reworded copy is closer than Dolly (MMD², Fréchet)", copy["mmd2"] < dolly["mmd2"] and copy["frechet"] < dolly["frechet"]),
        ("another Alpaca sample is not told apart (MMD p ≥ 0.05)", other["mmd_p_value"] >= 0.05),
        ("reworded copies are flagged as near copies of A (≥ 50%), another Alpaca sample is not (≤ 5%)",
         results["Alpaca, reworded"]["novelty"]["near_copy_share"] >= 0.5
         and results["Alpaca, other half"]["novelty"]["near_copy_share"] <= 0.05),
        ("shuffled copy is the same (Fréchet < 1e-5, MMD p > 0.5, every marginal JS 0)",
         same["frechet"] < 1e-5 and same["mmd_p_value"] > 0.5
         and all(m["js"] == 0 for m in results["Alpaca, shuffled"]["marginals"])),
    ]
    for text, ok in claims:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    if not all(ok for _, ok in claims):
        sys.exit(1)


if __name__ == "__main__":
    main()
