"""Benchmark: text search (`assay trace --grep`, the viewer's `q=`) by scan and by the FTS5 index.

    python evals/bench_search.py [--samples 100000] [--repeat 5] [--keep DIR]

Builds a synthetic session of N samples (two short messages each) and 2N decisions through
the session's own connection, so migration 0004's triggers index every row as it is
inserted, then times each search both ways: the LIKE scan (what every search did before
0004, and what text under three characters still does) and the trigram index. It checks
that both give the same answer and prints the figures; it asserts nothing else.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ["the", "of", "a", "to", "and", "in", "is", "it", "you", "that", "for", "on", "with", "as", "are", "this", "be",
         "at", "have", "from", "or", "one", "by", "what", "can", "river", "poem", "recipe", "python", "query", "delta",
         "sorting", "table", "index", "garden", "planet", "winter", "summer", "music", "history"]
RARE = "Canberra"  # in one sample of 2,000: a needle
SEARCHES = ("canberra", "river poem", "sorting table", "50% off", "zq")  # rare, common, phrase, no match, short


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(directory: Path, n: int, seed: int = 0) -> tuple[float, float]:
    """Write the synthetic session through the session's own write paths (`samples.insert`,
    `trace.decisions`); returns the seconds each took, the index triggers included."""
    from assay.core.config import Config
    from assay.core.records import Message, Origin, Sample
    from assay.session.session import Runtime, Session
    from assay.trace.log import Decision

    rng = random.Random(seed)
    session = Session.open(directory, Runtime(env={"ASSAY_HOME": str(directory.parent / "home")}), Config(), create=True)
    samples = [
        Sample.create([Message(role="user", content=text(rng, 25) + (f" {RARE}" if i % 2000 == 0 else "")),
                       Message(role="assistant", content=text(rng, 90))], source="pool.jsonl",
                      origin=Origin(format="alpaca"))
        for i in range(n)
    ]
    decisions = [Decision(samples[rng.randrange(n)].id, "judge", rng.choice(("judged", "drop", "keep")), text(rng, 8),
                          round=rng.randint(0, 5)) for _ in range(2 * n)]
    started = time.perf_counter()
    session.samples.insert(samples, round=0)
    inserted = time.perf_counter()
    for chunk in range(0, len(decisions), 1000):  # as a run logs them: a batch per step
        session.trace.decisions(decisions[chunk: chunk + 1000])
    logged = time.perf_counter()
    session.close()
    return inserted - started, logged - inserted


def timed(call: object, repeat: int) -> tuple[float, object]:
    """Median seconds of `repeat` calls, and the last answer."""
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def searches(conn: object) -> dict[str, object]:
    """The two searches of one text: the viewer's sample list and the trace's decision search."""
    from assay.trace.query import DecisionFilter, find_decisions
    from assay.ui.queries import SampleFilter, sample_page

    def ids(page: dict) -> tuple:
        return page["total"], [s["id"] for s in page.get("samples", page.get("decisions", []))]

    return {
        "viewer q=": lambda q: ids(sample_page(conn, SampleFilter(q=q))),  # type: ignore[arg-type]
        "assay trace --grep": lambda q: ids(find_decisions(conn, DecisionFilter(grep=q))),  # type: ignore[arg-type]
    }


def main() -> None:
    """Build, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the session here and leave it")
    args = parser.parse_args()

    import sqlite3

    from assay.session.session import DB_NAME
    from assay.trace import query

    work = args.keep or Path(tempfile.mkdtemp(prefix="assay-bench-search-"))
    directory = work / "session"
    took_samples, took_decisions = build(directory, args.samples)
    path = directory / DB_NAME
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # as the viewer and `assay trace` read it
    conn.row_factory = sqlite3.Row
    pages = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%_text%'").fetchone()[0] \
        if conn.execute("SELECT 1 FROM pragma_module_list WHERE name = 'dbstat'").fetchone() else None
    print(f"{args.samples:,} samples inserted in {took_samples:.1f} s, {2 * args.samples:,} decisions logged in"
          f" {took_decisions:.1f} s (index triggers included); DB {path.stat().st_size / 1e6:.0f} MB"
          + (f", of which the text indexes {pages / 1e6:.0f} MB" if pages else ""))
    print(f"{'search':<22} {'text':<16} {'matches':>8} {'scan ms':>9} {'index ms':>9}  same")
    trigram = query.TRIGRAM
    for name, search in searches(conn).items():
        for q in SEARCHES:
            query.TRIGRAM = 10**9  # every text counts as "too short": the LIKE scan, as before migration 0004
            scan, scanned = timed(lambda: search(q), args.repeat)
            query.TRIGRAM = trigram
            fts, found = timed(lambda: search(q), args.repeat)
            print(f"{name:<22} {q!r:<16} {found[0]:>8,} {scan * 1e3:>9.1f} {fts * 1e3:>9.1f}  {scanned == found}")
    conn.close()
    if args.keep is None:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main()
