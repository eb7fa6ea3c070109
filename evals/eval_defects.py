"""Eval: do the heuristic filters find the planted defects, and what do they drop on real data?

    python evals/eval_defects.py [--pool examples/pool.jsonl] [--key examples/defects.json]
                                 [--alpaca ../shared/data/alpaca/alpaca_5000.json] [--examples 4]

(a) Recall on the answer key of the hand-written pool, per defect kind the heuristics own,
    and false positives among the lines the key does not list (target: at most 3 of ~107).
(b) Drops per reason on 5,000 real Alpaca samples, with a few example instructions per
    reason so precision can be judged by eye, and the throughput of the screen.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from assay.core.formats import record_to_sample
from assay.tools.heuristics import FILTERS, HeuristicScreen

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ALPACA = REPO.parent / "shared" / "data" / "alpaca" / "alpaca_5000.json"
HEURISTIC_KINDS = ("empty_output", "truncated", "merged_instructions", "url_only_input", "refusal", "repetition")
OTHER_KINDS = ("wrong_answer", "near_duplicate", "exact_duplicate", "contaminated")
MAX_FALSE_POSITIVES = 3
# Share of Alpaca one filter may drop before it is suspect: the known defects of Alpaca
# (empty outputs, link-only inputs, cut answers ...) are each well under 1 %.
ALPACA_SANE_SHARE = 0.02
# The screen runs on every sample before anything else: 5,000 samples in seconds on one core.
TARGET_RATE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, default=REPO / "examples" / "pool.jsonl")
    parser.add_argument("--key", type=Path, default=REPO / "examples" / "defects.json")
    parser.add_argument("--alpaca", type=Path, default=DEFAULT_ALPACA)
    parser.add_argument("--examples", type=int, default=4, help="example instructions shown per reason")
    args = parser.parse_args()
    screen = HeuristicScreen()
    answer_key(screen, args.pool, args.key)
    if args.alpaca.is_file():
        alpaca(screen, args.alpaca, args.examples)
    else:
        print(f"\n(b) skipped: {args.alpaca} not found (see ../shared/data/README.md)")


def answer_key(screen: HeuristicScreen, pool: Path, key: Path) -> None:
    """Part (a): recall per planted kind and false positives on the good lines."""
    lines = pool.read_text(encoding="utf-8").splitlines()
    samples = [record_to_sample(json.loads(line), "alpaca", source=f"{pool.name}:{i}") for i, line in enumerate(lines, 1)]
    verdicts = screen(samples)
    planted = {d["line"]: d["kind"] for d in json.loads(key.read_text(encoding="utf-8"))["defects"]}

    print(f"(a) planted defects in {pool.name} ({len(lines)} lines)\n")
    print(f"{'kind':22} {'planted':>7} {'detected':>8} {'recall':>7}  target  missed lines / other reasons")
    found_total = planted_total = 0
    for kind in HEURISTIC_KINDS:
        lines_of_kind = [n for n, k in planted.items() if k == kind]
        hits = [n for n in lines_of_kind if verdicts[n - 1].reason == kind]
        misses = [f"{n}:{verdicts[n - 1].reason or 'kept'}" for n in lines_of_kind if n not in hits]
        found_total, planted_total = found_total + len(hits), planted_total + len(lines_of_kind)
        recall = len(hits) / len(lines_of_kind) if lines_of_kind else 0.0
        print(f"{kind:22} {len(lines_of_kind):>7} {len(hits):>8} {recall:>7.0%}  100%    {' '.join(misses)}")
    print(f"{'all heuristic kinds':22} {planted_total:>7} {found_total:>8} {found_total / planted_total:>7.0%}  100%")
    for kind in OTHER_KINDS:
        count = sum(1 for k in planted.values() if k == kind)
        flagged = Counter(verdicts[n - 1].reason for n, k in planted.items() if k == kind and not verdicts[n - 1].keep)
        note = f"  (flagged anyway: {dict(flagged)})" if flagged else ""
        print(f"{kind:22} {count:>7}  out of scope (dedup/decontam/judge){note}")

    good = [n for n in range(1, len(lines) + 1) if n not in planted]
    false = [(n, verdicts[n - 1]) for n in good if not verdicts[n - 1].keep]
    print(f"\nfalse positives on good lines: {len(false)} of {len(good)} (target <= {MAX_FALSE_POSITIVES})")
    for n, verdict in false:
        print(f"  line {n}: {verdict.reason} — {verdict.detail}")


def alpaca(screen: HeuristicScreen, path: Path, examples: int) -> None:
    """Part (b): drops per reason on real Alpaca data, with examples and throughput."""
    records = json.loads(path.read_text(encoding="utf-8"))
    samples = [record_to_sample(r, "alpaca", source=f"{path.name}:{i}") for i, r in enumerate(records, 1)]
    screen(samples[:10])  # load the language profiles outside the timing
    start, cpu_start = time.perf_counter(), time.process_time()
    verdicts = screen(samples)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start

    by_reason: dict[str, list[int]] = defaultdict(list)
    for i, verdict in enumerate(verdicts):
        if not verdict.keep:
            by_reason[verdict.reason or ""].append(i)
    total_dropped = sum(len(v) for v in by_reason.values())
    print(f"\n(b) {path.name}: {len(samples)} samples\n")
    print(f"{'reason':22} {'dropped':>7} {'share':>7}  sane if below")
    for reason in FILTERS:
        count = len(by_reason.get(reason, []))
        print(f"{reason:22} {count:>7} {count / len(samples):>7.2%}  {ALPACA_SANE_SHARE:.0%}")
    print(f"{'any reason':22} {total_dropped:>7} {total_dropped / len(samples):>7.2%}")
    # CPU time is the steadier figure on a shared machine; wall time is what a user waits.
    print(f"\nscreen: wall {elapsed:.2f} s ({len(samples) / elapsed:,.0f} samples/s), "
          f"CPU {cpu:.2f} s ({len(samples) / cpu:,.0f} samples/s per core); target >= {TARGET_RATE:,} samples/s per core")

    for reason in FILTERS:
        shown = by_reason.get(reason, [])[:examples]
        if not shown:
            continue
        print(f"\n{reason} — examples:")
        for i in shown:
            record = records[i]
            instruction = _one_line(record["instruction"] + (" | input: " + record["input"] if record["input"] else ""))
            print(f"  #{i + 1} {instruction[:110]}\n      -> {_one_line(record['output'])[:110]!s}\n      [{verdicts[i].detail}]")


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    main()
