"""Eval: MinHash dedup on Dolly, whole-text vs instruction-aware: are shared-passage siblings kept?

    python evals/eval_dedup_dolly.py [--data ../shared/data/alpaca/alpagasus_dolly_3k.json]

Dolly (Alpaca-shaped, the passage in `input`) has questions asked over one passage. Every
MinHash pair is listed with its class, from the raw record: `shared passage` when both inputs
hold the same passage (character 3-gram Jaccard of the inputs 0.8 or more) but the
instructions differ, `same instruction` when the instructions are near-identical, else
`other`. The table gives the pairs and drops of each run; then every pair the
instruction-aware run still makes is printed to be read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # eval_dedup beside it: its vector cache
DEFAULT_DATA = REPO.parent / "shared" / "data" / "alpaca" / "alpagasus_dolly_3k.json"


def pair_class(first: dict, second: dict) -> str:
    """How two raw Alpaca records relate: shared passage, same instruction, or other."""
    from assay.tools.dedup import char_shingles, jaccard

    def close(key: str) -> float:
        return jaccard(char_shingles(str(first.get(key, ""))), char_shingles(str(second.get(key, ""))))

    if close("instruction") >= 0.8:
        return "same instruction"
    if str(first.get("input", "")).strip() and close("input") >= 0.8:
        return "shared passage"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--semantic", action="store_true",
                        help="also semantic dedup, whole-text and instruction-aware (embeds the file; cached)")
    parser.add_argument("--vector-cache", type=Path, default=Path("/tmp/assay_dedup_dolly_minilm_vectors.npz"))
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data} (see ../shared/data/README.md)")

    from assay.pipeline.intake.ingest import read_inputs
    from assay.tools.dedup import dedup, minhash_pairs
    from assay.tools.dedup_task import SemanticTaskRule, TaskRule
    from eval_dedup import CachedEncoder, cached_vectors

    pool = read_inputs([args.data], skip_invalid=False, max_record_bytes=16_000_000).samples
    runs = [("minhash-whole (before)", ("minhash",), {"task": None}), ("minhash (instruction-aware)", ("minhash",), {})]
    vectors = None
    if args.semantic:
        vectors = cached_vectors([s.text() for s in pool], args.vector_cache)
        runs += [("semantic-whole (before)", ("semantic",), {"semantic_task": None}),
                 ("semantic (instruction-aware)", ("semantic",), {"semantic_task": SemanticTaskRule()})]
    rows = []
    for name, methods, options in runs:
        started = time.perf_counter()
        result = dedup(pool, methods, vectors if "semantic" in methods else None,
                       embedder=CachedEncoder(args.vector_cache), **options)
        seconds = time.perf_counter() - started
        # dedup() lists only the MinHash pairs that join its clusters; the table counts every pair.
        pairs = minhash_pairs(pool, **options) if methods == ("minhash",) else result.pairs
        classes = Counter(pair_class(pool[p.first].origin.record, pool[p.second].origin.record) for p in pairs)
        drops = sum(not a.keep for a in result.assessments)
        rows.append((name, len(pairs), classes, drops, seconds, pairs))
    print(f"{len(pool)} samples of {args.data.name}\n")
    print(f"{'run':<30}{'pairs':>6}{'shared passage':>16}{'same instruction':>18}{'other':>7}{'drops':>7}{'seconds':>9}")
    for name, n_pairs, classes, drops, seconds, _ in rows:
        print(f"{name:<30}{n_pairs:>6}{classes['shared passage']:>16}{classes['same instruction']:>18}"
              f"{classes['other']:>7}{drops:>7}{seconds:>9.2f}")
    rule = TaskRule()
    print("\npairs the instruction-aware runs still make (instruction / response word similarity):")
    for pair in [p for row in rows if "aware" in row[0] for p in row[5]]:
        a, b = pool[pair.first], pool[pair.second]
        instruction, response = rule.similarities(a, b)
        print(f"  {pair.similarity:.2f}  instr {instruction:.2f} resp {response:.2f}\n"
              f"      {a.origin.record['instruction'][:90]!r} -> {a.response[:60]!r}\n"
              f"      {b.origin.record['instruction'][:90]!r} -> {b.response[:60]!r}")


if __name__ == "__main__":
    main()
