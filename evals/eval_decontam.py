"""Eval: decontamination recall on planted GSM8K / HumanEval test items, false positives on hard negatives.

    python evals/eval_decontam.py [--data ../shared/data] [--seed 0] [--cosine 0.9] [--cache /tmp/assay-decontam-embeddings]

Every GSM8K test question and HumanEval prompt is planted into the Alpaca pool six ways
(verbatim, and with whitespace, casing, one number, one name or the order of two clauses
changed), each with a plausible response. Recall per benchmark x kind is reported for the
n-gram method alone, embeddings alone and both, beside the baseline of normalised exact
matching (the item's text, case-folded with whitespace collapsed, found in the sample).
False positives are measured on the 7,473 GSM8K train questions (same style as the test
set, none of them test items) and on the original Alpaca pool. Aims: recall >= 0.99
verbatim, >= 0.90 perturbed, false positives <= 1 %. Embeddings are cached in --cache,
keyed by a hash of model and text, so reruns only pay for the n-gram pass.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
KINDS = ("verbatim", "whitespace", "casing", "number", "name", "reorder")
NAMES = ("Priya", "Olumide", "Keiko", "Mateo", "Ingrid", "Tariq", "Svetlana", "Dmitri", "Aroha", "Lucia")
CODE_NAMES = ("solve", "compute_result", "my_function", "helper", "process_values")
HUMANEVAL_INSTRUCTION = "Complete the following Python function."


# --- perturbations: each takes the item text and a seeded rng, returns the changed text -------------

def whitespace(text: str, rng: random.Random, _: dict) -> str:
    """Every run of whitespace replaced by a random other run; padding added at both ends."""
    return "  " + re.sub(r"\s+", lambda m: rng.choice([" ", "  ", "\n", " \t ", m.group()]), text) + " \n"


def casing(text: str, rng: random.Random, _: dict) -> str:
    """All lower, all upper, or random words' case swapped."""
    mode = rng.choice(["lower", "upper", "swap"])
    if mode != "swap":
        return text.lower() if mode == "lower" else text.upper()
    return re.sub(r"\w+", lambda m: m.group().swapcase() if rng.random() < 0.4 else m.group(), text)


def number(text: str, rng: random.Random, ctx: dict) -> str:
    """One number changed to another value (a name instead when the text holds no number)."""
    found = list(re.finditer(r"\d+", text))
    if not found:
        ctx["fallbacks"] += 1
        return _renamed(text, rng, ctx) or text + " Answer briefly."  # neither: a trailing edit instead
    m = rng.choice(found)
    return text[: m.start()] + str(int(m.group()) + rng.randint(1, 9)) + text[m.end():]


def name(text: str, rng: random.Random, ctx: dict) -> str:
    """A person's name replaced everywhere, or in code the function renamed (a number when neither)."""
    renamed = _renamed(text, rng, ctx)
    if renamed is not None:
        return renamed
    ctx["fallbacks"] += 1
    return number(text, rng, ctx) if re.search(r"\d", text) else text + " Answer briefly."


def _renamed(text: str, rng: random.Random, ctx: dict) -> str | None:
    defs = re.findall(r"def (\w+)\(", text)
    if defs:  # a rename touches the definition and the calls, not words of the docstring
        new = rng.choice([n for n in CODE_NAMES if n != defs[-1]])
        return re.sub(rf"\b{re.escape(defs[-1])}(?=\()", new, text)
    # Capitalised words never seen in lower case in the benchmark are names (people, days, places).
    candidates = sorted({w for w in re.findall(r"\b[A-Z][a-z]+\b", text) if w.lower() not in ctx["common"]})
    if not candidates:
        return None
    old = rng.choice(candidates)
    return re.sub(rf"\b{re.escape(old)}\b", rng.choice([n for n in NAMES if n not in text]), text)


def reorder(text: str, rng: random.Random, _: dict) -> str:
    """Two adjacent sentences swapped; in a one-sentence text, two adjacent comma clauses."""
    for pattern, joiner in ((r"(?<=[.?!])\s+", " "), (r",\s+", ", ")):
        parts = re.split(pattern, text.strip())
        if len(parts) >= 2:
            i = rng.randrange(len(parts) - 1)
            parts[i], parts[i + 1] = parts[i + 1], parts[i]
            return joiner.join(parts)
    return text


PERTURB: dict[str, Callable[[str, random.Random, dict], str]] = {
    "verbatim": lambda text, rng, ctx: text, "whitespace": whitespace, "casing": casing,
    "number": number, "name": name, "reorder": reorder,
}


# --- data ----------------------------------------------------------------------------------------------

def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def alpaca_sample(instruction: str, output: str, source: str, input_text: str = ""):
    from assay.core.formats import record_to_sample

    return record_to_sample({"instruction": instruction, "input": input_text, "output": output}, "alpaca", source=source)


def planted_samples(data: Path, seed: int) -> tuple[list, list[tuple[str, str, str]], int]:
    """Planted samples and, per sample, (benchmark, item id, kind); plus how many perturbations fell back."""
    gsm = read_jsonl(data / "decontam" / "gsm8k_test.jsonl")
    humaneval = read_jsonl(data / "decontam" / "humaneval.jsonl.gz")
    ctx = {"fallbacks": 0, "common": {w for r in gsm for w in re.findall(r"\b[a-z]+\b", r["question"])}}
    samples, labels = [], []
    for line, record in enumerate(gsm, start=1):
        for kind in KINDS:
            rng = random.Random(f"{seed}:gsm8k:{line}:{kind}")
            question = PERTURB[kind](record["question"], rng, ctx)
            samples.append(alpaca_sample(question, record["answer"], f"planted:gsm8k_test:{line}:{kind}"))
            labels.append(("gsm8k_test", str(line), kind))
    for record in humaneval:
        for kind in KINDS:
            rng = random.Random(f"{seed}:humaneval:{record['task_id']}:{kind}")
            prompt = PERTURB[kind](record["prompt"], rng, ctx)
            samples.append(alpaca_sample(HUMANEVAL_INSTRUCTION, record["canonical_solution"],
                                         f"planted:humaneval:{record['task_id']}:{kind}", input_text=prompt))
            labels.append(("humaneval", record["task_id"], kind))
    return samples, labels, ctx["fallbacks"]


class CachedEncoder:
    """An Embedder with an on-disk cache keyed by hash(model, text); new vectors saved per chunk."""

    def __init__(self, embedder, cache_dir: Path, chunk: int = 1024) -> None:
        self.embedder, self.dir, self.chunk = embedder, cache_dir, chunk
        self.dir.mkdir(parents=True, exist_ok=True)
        self.vectors: dict[str, np.ndarray] = {}
        for part in sorted(self.dir.glob("*.npz")):
            stored = np.load(part)
            self.vectors.update(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.embedder.model_name}\0{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = list({k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items())
        for start in range(0, len(missing), self.chunk):
            part = missing[start : start + self.chunk]
            vectors = self.embedder.encode([t for _, t in part])
            self.vectors.update(zip([k for k, _ in part], vectors, strict=True))
            np.savez(self.dir / f"{time.time_ns()}.npz", keys=np.array([k for k, _ in part]), vectors=vectors)
            print(f"  embedded {min(start + self.chunk, len(missing))}/{len(missing)} new texts", file=sys.stderr)
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)


def exact_flags(samples: Sequence, item_texts: Sequence[str]) -> list[bool]:
    """Baseline: the item's case-folded, whitespace-collapsed text occurs in the sample's."""
    def norm(text: str) -> str:
        return " ".join(text.casefold().split())

    items = [norm(t) for t in item_texts]
    return [any(item in text for item in items) for text in (norm(s.text()) for s in samples)]


# --- main ----------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cosine", type=float, default=None, help="embedding threshold (default: the tool's)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/assay-decontam-embeddings"))
    args = parser.parse_args()
    if not (args.data / "decontam" / "gsm8k_test.jsonl").is_file():
        sys.exit(f"reference data not found under {args.data} (see ../shared/data/README.md)")

    from assay.session.embeddings import Embedder
    from assay.pipeline.intake.ingest import read_inputs
    from assay.tools.benchmarks import load_benchmark
    from assay.tools.decontam import Decontaminator

    started = time.perf_counter()
    benchmarks = [load_benchmark(args.data / "decontam" / "gsm8k_test.jsonl"),
                  load_benchmark(args.data / "decontam" / "humaneval.jsonl.gz")]
    planted, labels, fallbacks = planted_samples(args.data, args.seed)
    train = [alpaca_sample(r["question"], r["answer"], f"gsm8k_train:{i}")
             for i, r in enumerate(read_jsonl(args.data / "decontam" / "gsm8k_train.jsonl"), start=1)]
    alpaca = read_inputs([args.data / "alpaca" / "alpaca_5000.json"], skip_invalid=False,
                         max_record_bytes=16_000_000).samples
    groups = {"planted": planted, "gsm8k_train": train, "alpaca_5000": alpaca}
    everything = [s for group in groups.values() for s in group]

    options = {} if args.cosine is None else {"cosine_threshold": args.cosine}
    encoder = CachedEncoder(Embedder(), args.cache)
    tools = {"ngram": Decontaminator(benchmarks, **options),
             "embedding": Decontaminator(benchmarks, ngram=None, embedder=encoder, **options),
             "both": Decontaminator(benchmarks, embedder=encoder, **options)}
    t0 = time.perf_counter()
    vectors = encoder.encode([tools["both"].embed_text(s) for s in everything])
    embed_seconds = time.perf_counter() - t0
    results, seconds = {}, {}
    for method, tool in tools.items():
        t0 = time.perf_counter()
        results[method] = tool.assess(everything, vectors if tool.uses_embeddings else None)
        seconds[method] = time.perf_counter() - t0
    flags = {method: [not v.keep for v in verdicts] for method, verdicts in results.items()}
    flags["exact"] = exact_flags(everything, [i.text for b in benchmarks for i in b.items])

    methods = ("exact", "ngram", "embedding", "both")
    print(f"\nDecontamination recall (planted items), seed {args.seed}, cosine threshold "
          f"{tools['both'].cosine_threshold}; baseline = normalised exact match")
    print(f"{'benchmark':<11} {'kind':<10} {'n':>5} {'exact':>7} {'n-gram':>7} {'embed':>7} {'both':>7}  aim")
    for bench in ("gsm8k_test", "humaneval"):
        for kind in KINDS:
            rows = [i for i, (b, _, k) in enumerate(labels) if b == bench and k == kind]
            recall = {m: sum(flags[m][i] for i in rows) / len(rows) for m in methods}
            aim = ">= 0.99" if kind == "verbatim" else ">= 0.90"
            print(f"{bench:<11} {kind:<10} {len(rows):>5} " + " ".join(f"{recall[m]:>7.3f}" for m in methods) + f"  {aim}")
    print("\nFalse positives (share of clean samples flagged); aim <= 0.010")
    offset = len(planted)
    for group in ("gsm8k_train", "alpaca_5000"):
        size = len(groups[group])
        rates = {m: sum(flags[m][offset : offset + size]) / size for m in methods}
        print(f"{group:<22} {size:>5} " + " ".join(f"{rates[m]:>7.4f}" for m in methods))
        offset += size

    both = results["both"][: len(planted)]
    right = sum(1 for v, (b, i, _) in zip(both, labels, strict=True) if v.reason == f"contaminated:{b}:{i}")
    caught = sum(1 for v in both if not v.keep)
    print(f"\nflagged planted samples naming the planted item: {right}/{caught}; "
          f"perturbations that fell back (no number / no name): {fallbacks}")
    sweep(results["both"], flags["ngram"], len(planted), len(train), labels)
    print(f"\nwall time {time.perf_counter() - started:.1f} s (embedding {embed_seconds:.1f} s for "
          f"{len(everything)} texts, cached ones free; n-gram pass {seconds['ngram']:.1f} s, "
          f"{len(everything) / seconds['ngram']:.0f} samples/s)")


def sweep(verdicts: list, ngram_flags: list[bool], planted: int, train: int, labels: list[tuple[str, str, str]]) -> None:
    """Perturbed recall and false positives at other cosine thresholds, embeddings alone and with n-grams."""
    cosine = np.array([v.scores["contamination_cosine"] for v in verdicts])
    by_ngram = np.array(ngram_flags)
    perturbed = np.array([k != "verbatim" for _, _, k in labels])
    print("\ncosine threshold sweep: perturbed recall / FP gsm8k_train / FP alpaca_5000")
    print(f"{'threshold':>9} {'embedding alone':>26} {'n-gram + embedding':>26}")
    for threshold in (0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96):
        cells = []
        for hits in (cosine >= threshold, (cosine >= threshold) | by_ngram):
            cells.append(f"{hits[:planted][perturbed].mean():.3f} / {hits[planted:planted + train].mean():.4f} / "
                         f"{hits[planted + train:].mean():.4f}")
        print(f"{threshold:>9.2f} {cells[0]:>26} {cells[1]:>26}")


if __name__ == "__main__":
    main()
