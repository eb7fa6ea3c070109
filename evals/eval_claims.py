"""Eval: claim decomposition and sentence typing on CACDD (500 Chinese RAG answers).

    python evals/eval_claims.py [--data ../shared/data/claims/cacdd.jsonl] [--limit N]
                                [--model MODEL | --dry-run] [--threshold 0.5] [--session DIR]

Each answer goes through `extract_claims` (one call: typed sentences + atomic claims).
- Sentence kinds: each gold sentence takes the kind of the predicted sentence most similar to
  it; below the threshold it counts as missed (wrong). Accuracy and macro-F1 over the four
  kinds, next to the majority class ("fact" for every sentence).
- Claims: predicted and gold claims are matched one to one, greedily from the most similar
  pair down, while the similarity is at least the threshold; micro precision / recall / F1,
  next to a baseline that cuts the answer at 。！？； and line breaks and calls each piece a claim.
Similarity: F1 of the character-bigram multisets of the two texts after NFKC, lowercasing and
removing whitespace and punctuation (word-free, so it works for Chinese). Citation marks such
as 【1】 (retrieval artefacts of the RAG answers; gold text has none) are removed from every
answer before the model or the baseline sees it. A failed call counts as no prediction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

from assay.core.concurrency import gather_cancelling
from assay.agents.base import AgentContext
from assay.agents.decomposer import SENTENCE_KINDS, extract_claims
from assay.core.records import Message, Origin, Sample
from eval_session import open_eval_session

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "claims" / "cacdd.jsonl"
GOLD_KINDS = {"1": "fact", "2": "opinion", "3": "instruction", "4": "other"}  # CACDD README
GOLD_LABEL = re.compile(r"\{(\d*)\}\s*$")
CITATION = re.compile(r"【[^】]{1,8}】")
BASELINE_SPLIT = re.compile(r"(?<=[。！？；])|\n+")
STRICT_THRESHOLD = 0.7
DRY_RUN_NOTE = "DRY RUN: placeholder answers; these figures only show that the pipeline runs, not quality"


def normalise(text: str) -> str:
    """The text compared: NFKC, lowercase, no whitespace or punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def bigrams(text: str) -> Counter[str]:
    """Character bigrams of the normalised text (the text itself when it is one character)."""
    text = normalise(text)
    return Counter(text[i : i + 2] for i in range(len(text) - 1)) if len(text) > 1 else Counter([text] if text else [])


def similarity(a: Counter[str], b: Counter[str]) -> float:
    """F1 (Dice) of two bigram multisets."""
    total = sum(a.values()) + sum(b.values())
    return 2 * sum((a & b).values()) / total if total else 0.0


def greedy_matches(predicted: list[str], gold: list[str], threshold: float) -> int:
    """How many one-to-one pairs reach the threshold, pairing the most similar first."""
    p_grams, g_grams = [bigrams(p) for p in predicted], [bigrams(g) for g in gold]
    pairs = sorted(((similarity(p, g), i, j) for i, p in enumerate(p_grams) for j, g in enumerate(g_grams)),
                   reverse=True)
    used_p, used_g, matched = set(), set(), 0
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_p and j not in used_g:
            used_p.add(i), used_g.add(j)
            matched += 1
    return matched


def prf(matched: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts."""
    p = matched / predicted if predicted else 0.0
    r = matched / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def kind_scores(gold: list[str], predicted: list[str | None]) -> tuple[float, float]:
    """Accuracy and macro-F1 over the four kinds (None = no aligned sentence: wrong for every kind)."""
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0
    f1s = []
    for kind in SENTENCE_KINDS:
        hits = sum(g == p == kind for g, p in zip(gold, predicted, strict=True))
        f1s.append(prf(hits, predicted.count(kind), gold.count(kind))[2])
    return accuracy, sum(f1s) / len(f1s)


def read_rows(path: Path, limit: int | None) -> list[dict]:
    """CACDD rows with the answer cleaned and the gold sentences split into (text, kind)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[:limit]:
        row = json.loads(line)
        sentences = []
        for raw in row["sentence_classification"]:
            label = GOLD_LABEL.search(raw)
            kind = GOLD_KINDS.get(label.group(1)) if label else None
            sentences.append((GOLD_LABEL.sub("", raw).strip(), kind))
        rows.append({"question": row["question"], "answer": CITATION.sub("", row["answer"]).strip(),
                     "sentences": sentences, "claims": row["atomic_claim"]})
    return rows


def baseline_claims(answer: str) -> list[str]:
    """Every piece of the answer between sentence punctuation, as a claim."""
    return [piece.strip() for piece in BASELINE_SPLIT.split(answer) if piece.strip()]


async def decompose(rows: list[dict], ctx: AgentContext) -> list:
    """One extract_claims call per answer, all in flight at once (the gateway bounds concurrency)."""
    samples = [Sample.create([Message(role="user", content=r["question"]),
                              Message(role="assistant", content=r["answer"])],
                             source=f"cacdd:{i}", origin=Origin(format="alpaca")) for i, r in enumerate(rows, 1)]
    done = 0

    async def one(sample: Sample):
        nonlocal done
        result = await extract_claims(ctx, sample)
        done += 1
        print(f"  {done}/{len(samples)} answers", file=sys.stderr, end="\r", flush=True)
        return result

    return await gather_cancelling(one(s) for s in samples)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N answers only")
    parser.add_argument("--model", default=None, help="litellm model (default: the embedded SmolLM2)")
    parser.add_argument("--dry-run", action="store_true", help="instant placeholder answers: checks the pipeline only")
    parser.add_argument("--threshold", type=float, default=0.5, help="bigram-F1 needed for a match")
    parser.add_argument("--max-tokens", type=int, default=1536, help="answer tokens per call")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--session", type=Path, default=None, help="session folder (reuses its cache on reruns)")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found (see ../shared/data/README.md)")
    rows = read_rows(args.data, args.limit)
    session = open_eval_session(args, "claims")
    base = AgentContext.for_session(session, "decomposer")
    ctx = AgentContext(base.gateway, base.model, {**base.params, "max_tokens": args.max_tokens})
    started = time.perf_counter()
    results = asyncio.run(decompose(rows, ctx))
    seconds = time.perf_counter() - started
    report(rows, results, args, ctx.model, seconds)
    print(f"trace and cache: {session.dir}")
    session.close()


def report(rows: list[dict], results: list, args: argparse.Namespace, model: str, seconds: float) -> None:
    """Print the table: the model's figures beside the baselines'."""
    gold_kinds, predicted_kinds, unlabelled = [], [], 0
    counts = {t: Counter() for t in (args.threshold, STRICT_THRESHOLD)}
    for row, result in zip(rows, results, strict=True):
        value = result.value
        sentences = [(s.text, s.kind) for s in value.sentences] if value else []
        claims = list(value.claims) if value else []
        grams = [bigrams(text) for text, _ in sentences]
        for text, kind in row["sentences"]:
            if kind is None:
                unlabelled += 1
                continue
            gold = bigrams(text)
            scored = sorted(((similarity(gold, g), k) for g, (_, k) in zip(grams, sentences)), reverse=True)
            gold_kinds.append(kind)
            predicted_kinds.append(scored[0][1] if scored and scored[0][0] >= args.threshold else None)
        cut = baseline_claims(row["answer"])
        for threshold, count in counts.items():
            count["model"] += greedy_matches(claims, row["claims"], threshold)
            count["baseline"] += greedy_matches(cut, row["claims"], threshold)
            count["model_n"] += len(claims)
            count["baseline_n"] += len(cut)
            count["gold_n"] += len(row["claims"])
    failed = sum(not r.ok for r in results)
    accuracy, macro = kind_scores(gold_kinds, predicted_kinds)
    base_accuracy, base_macro = kind_scores(gold_kinds, ["fact"] * len(gold_kinds))
    aligned = sum(p is not None for p in predicted_kinds) / len(predicted_kinds) if predicted_kinds else 0.0

    dry = model == "dry-run"
    print(f"CACDD claims eval: {len(rows)} answers, model {model}"
          + (f"  [{DRY_RUN_NOTE}]" if dry else ""))
    print(f"failed calls: {failed}; gold sentences typed: {len(gold_kinds)} ({unlabelled} without a label skipped); "
          f"gold claims: {counts[args.threshold]['gold_n']}")
    print(f"match: character-bigram F1 >= {args.threshold} (strict row: >= {STRICT_THRESHOLD}), one-to-one greedy\n")
    print(f"{'metric':34} {'model':>8} {'baseline':>9}  baseline is")
    print(f"{'sentence-kind accuracy':34} {accuracy:>8.3f} {base_accuracy:>9.3f}  majority class (fact)")
    print(f"{'sentence-kind macro-F1':34} {macro:>8.3f} {base_macro:>9.3f}  majority class (fact)")
    print(f"{'gold sentences aligned':34} {aligned:>8.3f} {'':>9}")
    for threshold, count in counts.items():
        model_prf = prf(count["model"], count["model_n"], count["gold_n"])
        base_prf = prf(count["baseline"], count["baseline_n"], count["gold_n"])
        for name, m, b in zip(("precision", "recall", "F1"), model_prf, base_prf, strict=True):
            print(f"{f'claim {name} @ {threshold}':34} {m:>8.3f} {b:>9.3f}  split at 。！？； and line breaks")
    main_count = counts[args.threshold]
    per_answer = {k: main_count[k] / len(rows) for k in ("model_n", "baseline_n", "gold_n")}
    print(f"{'claims per answer':34} {per_answer['model_n']:>8.1f} {per_answer['baseline_n']:>9.1f}  "
          f"(gold {per_answer['gold_n']:.1f})")
    print(f"\ntime: {seconds:.1f} s for {len(rows)} answers ({seconds / max(len(rows), 1):.2f} s per answer)")


if __name__ == "__main__":
    main()
