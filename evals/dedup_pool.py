"""Duplicate-heavy synthetic pools for the dedup benchmarks (evals/bench_dedup_scale.py).

    python evals/dedup_pool.py OUT.json --size 20000 --duplicates 0.3 [--seed 0]

Distinct samples come from alpaca_5000: its records first, then new ones that join one
record's instruction and input to two others' outputs (a pool larger than 5,000 needs them;
two of them share at most a third of their text). A `--duplicates` share of the
pool are copies, in clusters whose sizes follow a heavy tail from 2 up to `--max-cluster`
copies: half verbatim or surface-varied (case, whitespace, end punctuation), half lightly
edited (1-5 % of words swapped, replaced, deleted or inserted), as evals/eval_dedup.py
plants them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # eval_dedup beside it: the copy makers

from eval_dedup import DEFAULT_DATA, FIELDS, edit_words, vary_surface  # noqa: E402


def make_pool(records: list[dict[str, str]], size: int, duplicates: float, *, max_cluster: int = 300,
              seed: int = 0) -> list[dict[str, str]]:
    """`size` records, a `duplicates` share of them copies of the others, shuffled by `seed`."""
    rng = random.Random(seed)
    copies = round(size * duplicates)
    distinct = size - copies
    pool = [dict(r) for r in records[:distinct]]
    while len(pool) < distinct:  # new distinct samples: one record's prompt, two others' answers
        prompt, first, second = rng.sample(records, 3)
        pool.append({"instruction": prompt["instruction"], "input": prompt["input"],
                     "output": first["output"] + "\n\n" + second["output"]})
    vocabulary = sorted({w for r in records for w in r["output"].split() if w.isalpha()})
    made: list[dict[str, str]] = []
    while len(made) < copies:
        # Pareto-like sizes: most clusters hold a few copies, some hold hundreds.
        cluster = min(max_cluster, copies - len(made), max(1, int(rng.paretovariate(1.0))))
        original = pool[rng.randrange(distinct)]
        for _ in range(cluster):
            kind = rng.random()
            if kind < 0.25:
                made.append(dict(original))
            elif kind < 0.5:
                made.append(vary_surface(original, rng))
            else:
                made.append(edit_words(original, rng, vocabulary, (0.01, 0.05)))
    pool += made
    rng.shuffle(pool)
    return pool


def load_records(path: Path = DEFAULT_DATA) -> list[dict[str, str]]:
    """The Alpaca records of `path`, each with its three fields as strings."""
    return [{key: str(r.get(key, "")) for key in FIELDS} for r in json.loads(path.read_text())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--max-cluster", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"data not found: {args.data} (see ../shared/data/README.md)")
    pool = make_pool(load_records(args.data), args.size, args.duplicates, max_cluster=args.max_cluster, seed=args.seed)
    args.out.write_text(json.dumps(pool, ensure_ascii=False))
    print(f"wrote {len(pool)} records to {args.out}")


if __name__ == "__main__":
    main()
