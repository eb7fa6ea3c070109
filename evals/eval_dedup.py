"""Eval: dedup recall and precision on Alpaca with planted exact and near duplicates.

    python evals/eval_dedup.py [--data ../shared/data/alpaca/alpaca_5000.json] [--exact 300] [--near 300] [--seed 0]

A seeded subset of the pool is copied back into it: exact copies (verbatim, or varied in
case, whitespace and end punctuation) and near copies (5-10 % or 10-15 % of words swapped,
replaced, deleted or inserted; one number or name changed; the response's sentences
reordered). A copy is found when it lands in its original's cluster. Drops of unplanted pool
samples are printed for eyeballing and counted apart, since Alpaca holds some duplicates of
its own: precision_planted = found / (found + copies dropped into a wrong cluster), and
precision_all also counts every pool drop as false. Target: 0.95 precision and recall.
Embeddings are cached in --vector-cache.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"
FIELDS = ("instruction", "input", "output")
NAMES = ["Maria", "Kenji", "Olu", "Priya", "Lars", "Fatima", "Diego", "Mei", "Tomas", "Amara"]
NUMBER = re.compile(r"\d+")
MID_SENTENCE_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]{2,}\b")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
TARGET = 0.95


@dataclass(frozen=True)
class Planted:
    """A copy added to the pool: its record, how it was made, and its original's position."""

    record: dict[str, str]
    kind: str
    original: int


def vary_surface(record: dict[str, str], rng: random.Random) -> dict[str, str]:
    """Same words, other case, whitespace, and punctuation at the ends of turns."""
    case = rng.choice([str.upper, str.lower, str.title, lambda s: s])
    turn_ends = ("input" if record["input"] else "instruction", "output")  # fields that end a turn
    out = {}
    for key in FIELDS:
        text = case(record[key]) if record[key] else ""
        text = re.sub(r" ", lambda _: rng.choice([" ", "  ", " \n", "\t"]) if rng.random() < 0.2 else " ", text)
        if text and key in turn_ends and rng.random() < 0.5:
            text = text.rstrip(".") if text.endswith(".") else text + "."
        out[key] = text + rng.choice(["", " ", "\n"])
    if out == record:
        out["output"] = record["output"] + "  "
    return out


def edit_words(record: dict[str, str], rng: random.Random, vocabulary: list[str],
               share: tuple[float, float]) -> dict[str, str]:
    """Swap, replace, delete or insert a `share` (low, high) of the words across the fields."""
    words = {key: record[key].split() for key in FIELDS}
    total = sum(len(w) for w in words.values())
    for _ in range(max(1, round(rng.uniform(*share) * total))):
        key = rng.choices(FIELDS, weights=[len(words[k]) + 0.01 for k in FIELDS])[0]
        field, op = words[key], rng.choice(["swap", "replace", "delete", "insert"])
        at = rng.randrange(max(1, len(field)))
        if op == "swap" and len(field) > 1:
            at = min(at, len(field) - 2)
            field[at], field[at + 1] = field[at + 1], field[at]
        elif op == "replace" and field:
            field[at] = rng.choice(vocabulary)
        elif op == "delete" and len(field) > 1:
            del field[at]
        else:
            field.insert(at, rng.choice(vocabulary))
    return {key: " ".join(words[key]) for key in FIELDS}


def change_number_or_name(record: dict[str, str], rng: random.Random) -> dict[str, str]:
    """One number changed, or one name replaced everywhere it occurs."""
    numbers = [(key, m) for key in FIELDS for m in NUMBER.finditer(record[key])]
    if numbers and (rng.random() < 0.5 or not has_name(record)):
        key, match = rng.choice(numbers)
        new = str(int(match.group()) + rng.randint(1, 9))
        return record | {key: record[key][: match.start()] + new + record[key][match.end() :]}
    name = rng.choice(sorted({m.group() for key in FIELDS for m in MID_SENTENCE_NAME.finditer(record[key])}))
    other = rng.choice([n for n in NAMES if n != name])
    return {key: re.sub(rf"\b{name}\b", other, record[key]) for key in FIELDS}


def has_name(record: dict[str, str]) -> bool:
    return any(MID_SENTENCE_NAME.search(record[key]) for key in FIELDS)


def reorder_sentences(record: dict[str, str], rng: random.Random) -> dict[str, str]:
    """The response's sentences in another order."""
    sentences = SENTENCE_END.split(record["output"].strip())
    shuffled = sentences[:]
    while shuffled == sentences:
        rng.shuffle(shuffled)
    return record | {"output": " ".join(shuffled)}


def plant(records: list[dict[str, str]], n_exact: int, n_near: int, seed: int) -> list[Planted]:
    """Copies of distinct, seeded-random originals: half of the exact ones verbatim, near ones in four kinds."""
    rng = random.Random(seed)
    vocabulary = sorted({w for r in records for w in r["output"].split() if w.isalpha()})
    unused = list(range(len(records)))
    rng.shuffle(unused)

    def take(count: int, eligible=lambda r: True) -> list[int]:
        chosen = [i for i in unused if eligible(records[i])][:count]
        for i in chosen:
            unused.remove(i)
        return chosen

    reorderable = lambda r: len(SENTENCE_END.split(r["output"].strip())) >= 2  # noqa: E731
    substitutable = lambda r: bool(NUMBER.search("".join(r.values()))) or has_name(r)  # noqa: E731
    near_quarter = n_near // 4
    planted = [Planted(dict(records[i]), "exact_verbatim", i) for i in take(n_exact // 2)]
    planted += [Planted(vary_surface(records[i], rng), "exact_variant", i) for i in take(n_exact - n_exact // 2)]
    planted += [Planted(reorder_sentences(records[i], rng), "near_reorder", i) for i in take(near_quarter, reorderable)]
    planted += [Planted(change_number_or_name(records[i], rng), "near_number_name", i)
                for i in take(near_quarter, substitutable)]
    planted += [Planted(edit_words(records[i], rng, vocabulary, (0.05, 0.10)), "near_edits_5_10pc", i)
                for i in take(near_quarter)]
    planted += [Planted(edit_words(records[i], rng, vocabulary, (0.10, 0.15)), "near_edits_10_15pc", i)
                for i in take(n_near - 3 * near_quarter)]
    rng.shuffle(planted)
    return planted


def cached_vectors(texts: list[str], cache: Path) -> np.ndarray:
    """all-MiniLM-L6-v2 vectors of the texts; each text's vector is cached under its hash."""
    keys = np.array([hashlib.sha256(t.encode("utf-8")).hexdigest()[:32] for t in texts])
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache) as stored:
            known = dict(zip(stored["keys"], stored["vectors"], strict=True))
    missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
    if missing:
        from assay.session.embeddings import Embedder

        started = time.perf_counter()
        fresh = Embedder().encode(list(missing.values()))
        print(f"embedded {len(missing)} texts in {time.perf_counter() - started:.0f} s; cached in {cache}")
        known.update(zip(missing, fresh, strict=True))
        np.savez(cache, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys])


class CachedEncoder:
    """An embedder for the semantic task check: the parts it is asked for go through the vector cache."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def encode(self, texts: list[str]) -> np.ndarray:
        return cached_vectors(list(texts), self.cache)


def score(result, n_pool: int, planted: list[Planted]) -> tuple[dict[str, float], list[tuple[int, int]]]:
    """Recall per kind and overall, precision, and the pool samples dropped (with what they joined)."""
    cluster_of = {}
    for number, cluster in enumerate(result.clusters):
        for position in (cluster.kept, *cluster.dropped):
            cluster_of[position] = number
    found = Counter()
    wrong = 0
    for offset, copy in enumerate(planted):
        position = n_pool + offset
        same = position in cluster_of and cluster_of[position] == cluster_of.get(copy.original)
        found[copy.kind] += same
        wrong += not same and not result.assessments[position].keep
    pool_drops = [(p, result.clusters[cluster_of[p]].kept) for p in range(n_pool) if not result.assessments[p].keep]
    kinds = Counter(copy.kind for copy in planted)
    figures = {kind: found[kind] / kinds[kind] for kind in sorted(kinds)}
    hits = sum(found.values())
    figures["recall_exact"] = sum(found[k] for k in kinds if k.startswith("exact")) / sum(
        kinds[k] for k in kinds if k.startswith("exact"))
    figures["recall_near"] = sum(found[k] for k in kinds if k.startswith("near")) / sum(
        kinds[k] for k in kinds if k.startswith("near"))
    figures["recall"] = hits / len(planted)
    figures["precision_planted"] = hits / max(1, hits + wrong)
    figures["precision_all"] = hits / max(1, hits + wrong + len(pool_drops))
    figures["pool_drops"] = len(pool_drops)
    return figures, pool_drops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--exact", type=int, default=300, help="exact copies to plant")
    parser.add_argument("--near", type=int, default=300, help="near copies to plant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vector-cache", type=Path, default=Path("/tmp/assay_dedup_minilm_vectors.npz"),
                        help="embeddings of earlier runs, keyed by a hash of each text")
    parser.add_argument("--methods", default="exact,minhash-jaccard,minhash-whole,minhash,semantic-whole,semantic,"
                                             "exact+minhash+semantic",
                        help="comma-separated runs; '+' joins methods into one run; minhash-jaccard is "
                             "minhash on the whole text by the Jaccard threshold alone, the first baseline; "
                             "minhash-whole adds the edited-copy rule but not the instruction-aware check "
                             "(the default before it); semantic-whole is semantic without its task check")
    parser.add_argument("--minhash-threshold", type=float, default=0.8)
    parser.add_argument("--semantic-threshold", type=float, default=0.95)
    parser.add_argument("--show-pool-drops", type=int, default=40, help="pool drops to print for eyeballing")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data} (see ../shared/data/README.md)")

    from assay.core.formats import record_to_sample
    from assay.pipeline.intake.ingest import read_inputs
    from assay.tools.dedup import dedup

    pool = read_inputs([args.data], skip_invalid=False, max_record_bytes=16_000_000).samples
    records = [{key: str(s.origin.record.get(key, "")) for key in FIELDS} for s in pool]
    planted = plant(records, args.exact, args.near, args.seed)
    samples = pool + [record_to_sample(c.record, "alpaca", source=f"planted:{c.kind}") for c in planted]
    print(f"pool {len(pool)} + {len(planted)} planted: {dict(sorted(Counter(c.kind for c in planted).items()))}")
    runs = [tuple(run.split("+")) for run in args.methods.split(",")]
    needs_vectors = any(m.startswith("semantic") for run in runs for m in run)
    vectors = cached_vectors([s.text() for s in samples], args.vector_cache) if needs_vectors else None

    table = []
    for methods in runs:
        started = time.perf_counter()
        chosen = tuple(m.split("-")[0] for m in methods)
        result = dedup(samples, chosen, vectors if "semantic" in chosen else None,
                       minhash_threshold=args.minhash_threshold, semantic_threshold=args.semantic_threshold,
                       embedder=CachedEncoder(args.vector_cache), **baseline_options(methods))
        seconds = time.perf_counter() - started
        figures, pool_drops = score(result, len(pool), planted)
        table.append(("+".join(methods), seconds, figures))
        for position, kept in pool_drops[: args.show_pool_drops]:
            print(f"  [{'+'.join(methods)}] pool drop {samples[position].id} ~ {samples[kept].id}: "
                  f"{result.assessments[position].detail}\n      dropped: {samples[position].text()[:150]!r}\n"
                  f"      kept:    {samples[kept].text()[:150]!r}")
    print_table(table, len(samples))
    print(f"thresholds: minhash Jaccard {args.minhash_threshold}, semantic cosine {args.semantic_threshold}")


def baseline_options(methods: tuple[str, ...]) -> dict[str, None]:
    """The dedup options that turn a baseline run's rules off: minhash-jaccard drops the
    edited-copy rule and the task check, minhash-whole the task check only, semantic-whole
    the semantic task check."""
    options: dict[str, None] = {"semantic_task": None} if "semantic-whole" in methods else {}
    if "minhash-jaccard" in methods:
        return options | {"edited": None, "task": None}
    return options | ({"task": None} if "minhash-whole" in methods else {})


def print_table(table: list[tuple[str, float, dict[str, float]]], n: int) -> None:
    """Recall per planting kind, then the totals with precision and time; the target beside each."""
    kinds = [k for k in table[0][2] if k.startswith(("exact_", "near_"))]
    totals = ["recall_exact", "recall_near", "recall", "precision_planted", "precision_all"]
    for title, columns, width in (("recall per planting kind", kinds, 19), ("totals", totals, 18)):
        print(f"\n{title}\n{'method':<24}" + "".join(f"{c:>{width}}" for c in columns)
              + ("" if columns is kinds else f"{'pool drops':>11}{'seconds':>9}"))
        for name, seconds, figures in table:
            print(f"{name:<24}" + "".join(f"{figures[c]:>{width}.3f}" for c in columns)
                  + ("" if columns is kinds else f"{int(figures['pool_drops']):>11}{seconds:>9.2f}"))
        print(f"{'target':<24}" + "".join(f"{TARGET:>{width}.2f}" for _ in columns)
              + ("" if columns is kinds else f"{'-':>11}{'-':>9}"))
    print(f"({n} samples; precision_planted sets pool drops apart, precision_all counts them as false; "
          "seconds = dedup wall time, embedding excluded)")


if __name__ == "__main__":
    main()
