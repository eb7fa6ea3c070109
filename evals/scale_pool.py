"""Realistic synthetic SFT pools of any size (10k, 100k, 1M, ...) for the scale benchmarks.

    python evals/scale_pool.py --size 100000 --out /tmp/pool_100k.jsonl [--dup-rate 0.2] [--seed 0]

Samples are Alpaca records (instruction, input, output) built from alpaca_5000 and the
AlpaGasus Dolly 3k in `../shared/data/alpaca/`. Pool version 2 (POOL_VERSION): each *original*
takes the shape of one source record and fills it from many (evals/scale_pool_text.py): a
templated prefix and suffix around a source instruction with some content words swapped, and
input and output sentences each drawn from a random record of the same sentence length, with
some content words swapped, digits substituted. Two originals share text only by chance, so
near-duplicates are rare at any size unless planted (version 1 made every original from one
source record, so a 1M pool held ~125 near-duplicate siblings per record).

Planted duplicates: a share `--dup-rate` of the rows are copies of an earlier original,
half exact, half lightly edited (whitespace, case of the first letter, a trailing period, one
word doubled or dropped). Cluster sizes are heavy-tailed: an original that gets copies gets
`c` of them with P(c) ~ c^-2 (Zipf, capped at 500); originals get copies while the copies so far
lag the stated share, so the realised share is the stated one at any size. Copies are spread by a bounded shuffle
window, so they land near, not next to, their original.

The file is streamed: memory is the sources plus the shuffle window, whatever the size. The
output is deterministic given (version, size, dup-rate, seed). The stated and realised rates
are printed, and `--describe FILE...` prints word counts of any pools (mean/median per field).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_pool_text import build_parts, original  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca"
SOURCES = ("alpaca_5000.json", "alpagasus_dolly_3k.json")
WINDOW = 20_000  # shuffle window, in rows
MAX_COPIES = 500
ZIPF = 2.0
POOL_VERSION = "v2"  # in the pool file names of bench_scale.py: a changed generator never reuses old files


@dataclass
class PoolStats:
    """What was written: rows, originals and planted copies (exact and edited), and cluster sizes."""

    rows: int = 0
    originals: int = 0
    exact_copies: int = 0
    edited_copies: int = 0
    clusters: int = 0  # originals with at least one copy
    largest_cluster: int = 1

    def describe(self, dup_rate: float) -> str:
        """The stated rate beside the realised ones."""
        copies = self.exact_copies + self.edited_copies
        # Two edited copies of one original may make the same edit, so exact repeats in the file can exceed `exact`.
        return (f"rows {self.rows}; originals {self.originals}; planted copies {copies} "
                f"({copies / max(self.rows, 1):.1%} realised, {dup_rate:.1%} stated): exact {self.exact_copies}, "
                f"edited {self.edited_copies}; clusters with copies {self.clusters}, largest {self.largest_cluster} rows")


def load_sources(data: Path = DATA) -> list[dict[str, str]]:
    """The source records (instruction, input, output), both files, in file order."""
    records: list[dict[str, str]] = []
    for name in SOURCES:
        path = data / name
        if not path.exists():
            sys.exit(f"missing {path}: the scale pool needs ../shared/data/alpaca (see its README)")
        for row in json.loads(path.read_text(encoding="utf-8")):
            records.append({k: str(row.get(k) or "") for k in ("instruction", "input", "output")})
    return records


def edited(sample: dict[str, str], rng: random.Random) -> dict[str, str]:
    """A light edit of a sample: what a scrape or a re-upload changes, not what a rewrite changes."""
    copy = dict(sample)
    field = rng.choice(("instruction", "output"))
    text = copy[field]
    kind = rng.randrange(4)
    words = text.split(" ")
    if kind == 0:
        text = "  ".join(words) if len(words) > 1 else text + " "
    elif kind == 1 and text:
        text = text[0].swapcase() + text[1:]
    elif kind == 2:
        text = text[:-1] if text.endswith(".") else text + "."
    elif len(words) > 3:
        at = rng.randrange(len(words))
        words.insert(at, words[at]) if rng.random() < 0.5 else words.pop(at)
        text = " ".join(words)
    else:
        text = text + "!"
    copy[field] = text
    return copy


def copies_per_cluster(rng: random.Random) -> int:
    """Zipf-distributed copy count, 1..MAX_COPIES (inverse CDF over the capped support)."""
    u = rng.random() * _ZIPF_TOTAL
    for c, cumulative in enumerate(_ZIPF_CDF, start=1):
        if u <= cumulative:
            return c
    return MAX_COPIES


_ZIPF_WEIGHTS = [c ** -ZIPF for c in range(1, MAX_COPIES + 1)]
_ZIPF_CDF = [sum(_ZIPF_WEIGHTS[:i + 1]) for i in range(MAX_COPIES)]
_ZIPF_TOTAL = _ZIPF_CDF[-1]


def rows(size: int, dup_rate: float, seed: int, stats: PoolStats, sources: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    """The pool's rows, streamed: originals and their planted copies through a bounded shuffle window."""
    if not 0 <= dup_rate < 1:
        raise ValueError("dup_rate must be in [0, 1)")
    rng = random.Random(seed)
    parts = build_parts(sources)
    # An original gets a Zipf number of copies while the copies so far lag the stated share of the rows so
    # far, capped by what the whole pool may still take: the realised share is the stated one at every size
    # (drawing clusters at random instead let one 350-copy cluster move a 10k pool's share by 3.5 points).
    budget = round(dup_rate * size)
    window: list[dict[str, str]] = []
    planned = 0
    while planned < size:
        sample = original(parts, rng)
        cluster = [sample]
        stats.originals += 1
        copies = stats.exact_copies + stats.edited_copies
        if copies < dup_rate * (planned + 1):
            for _ in range(min(copies_per_cluster(rng), size - planned - 1, budget - copies)):
                exact = rng.random() < 0.5
                cluster.append(dict(sample) if exact else edited(sample, rng))
                stats.exact_copies += exact
                stats.edited_copies += not exact
            if len(cluster) > 1:
                stats.clusters += 1
                stats.largest_cluster = max(stats.largest_cluster, len(cluster))
        planned += len(cluster)
        window.extend(cluster)
        while len(window) > WINDOW:
            yield _pop(window, rng)
    while window:
        yield _pop(window, rng)


def _pop(window: list[dict[str, str]], rng: random.Random) -> dict[str, str]:
    at = rng.randrange(len(window))
    window[at], window[-1] = window[-1], window[at]
    return window.pop()


def write_pool(path: Path, size: int, dup_rate: float = 0.2, seed: int = 0) -> PoolStats:
    """Write the pool as JSONL (atomically: a temporary file renamed into place); returns what was written."""
    stats = PoolStats()
    sources = load_sources()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows(size, dup_rate, seed, stats, sources):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            stats.rows += 1
    os.replace(tmp, path)
    return stats


def word_counts(records: Iterator[dict[str, str]]) -> str:
    """Mean and median words per field of `records`: to check a pool against its sources."""
    counts: dict[str, list[int]] = {"instruction": [], "input": [], "output": []}
    for record in records:
        for name, seen in counts.items():
            seen.append(len(str(record.get(name) or "").split()))
    return "; ".join(f"{name} mean {statistics.fmean(seen):.1f} median {statistics.median(seen):g}"
                     for name, seen in counts.items() if seen)


def read_jsonl(path: Path) -> Iterator[dict[str, str]]:
    """The records of a JSONL pool, streamed."""
    with path.open(encoding="utf-8") as lines:
        yield from (json.loads(line) for line in lines if line.strip())


def parse_size(text: str) -> int:
    """'10k', '100k', '1M' or a plain number."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=parse_size, help="rows: 10k, 100k, 1M or a number")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--describe", type=Path, nargs="*", metavar="FILE",
                        help="print word counts of the sources and of these JSONL pools, write nothing")
    parser.add_argument("--dup-rate", type=float, default=0.2, help="share of rows that are planted copies")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.describe is not None:
        print(f"sources (alpaca_5000 + dolly 3k): {word_counts(iter(load_sources()))}")
        for path in args.describe:
            print(f"{path}: {word_counts(read_jsonl(path))}")
        return
    if args.size is None or args.out is None:
        parser.error("--size and --out are required to write a pool")
    stats = write_pool(args.out, args.size, args.dup_rate, args.seed)
    print(f"{args.out}: {stats.describe(args.dup_rate)}")


if __name__ == "__main__":
    main()
