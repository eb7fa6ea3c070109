"""Eval: do the code checks find planted syntax errors in real code answers, and what do they flag untouched?

    python evals/eval_code_checks.py [--data ../shared/data/alpaca] [--seed 0] [--show 20]

(a) The untouched pools (alpaca_5000, Dolly 3k): samples holding code, blocks per language
    and how they were found, and every sample the screen drops, with its detail, to inspect.
(b) Planted errors: every Python, SQL and JSON block in those pools that parses is broken
    once per kind of error that fits it (code_mutations.py; the edit chosen with a fixed
    seed), and shown three ways: as the data has it (Alpaca's code is unfenced, untagged),
    in an untagged ``` fence, and in a fence tagged with its language. A plant counts only
    when the language's own parser rejects the edited block on its own (an edit that leaves
    valid code, such as a comma turned into an alias, is listed as a no-op). Recall: plants
    dropped with `code_syntax:<the right language>`; the line: whether the detail names the
    edited line. Precision: right drops over all drops, counting the drops on the untouched
    pools and any plant dropped under another language.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from code_mutations import MUTATIONS  # noqa: E402

from assay.core.formats import record_to_sample  # noqa: E402
from assay.core.records import Message, Sample  # noqa: E402
from assay.tools.code_blocks import find_code  # noqa: E402
from assay.tools.code_screen import CodeScreen  # noqa: E402
from assay.tools.code_run import given_values, isolation, run_python  # noqa: E402
from assay.tools.code_syntax import check  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POOLS = ("alpaca_5000.json", "alpagasus_dolly_3k.json")
SHOWN = ("as in the data", "fenced, untagged", "fenced, tagged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "alpaca")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=20, help="flagged originals printed in full detail")
    parser.add_argument("--execute", action="store_true", help="(c): run the pools' Python in the sandbox")
    args = parser.parse_args()
    screen = CodeScreen()
    samples = {name: _load(args.data / name) for name in POOLS}
    false_drops = untouched(screen, samples, args.show)
    planted(screen, samples, args.seed, false_drops)
    if args.execute:
        executed(samples)


def _load(path: Path) -> list[Sample]:
    records = json.loads(path.read_text(encoding="utf-8"))
    return [record_to_sample(r, "alpaca", source=f"{path.name}:{i}") for i, r in enumerate(records, 1)]


def untouched(screen: CodeScreen, pools: dict[str, list[Sample]], show: int) -> int:
    """Part (a): what the screen finds and drops in the pools as they are; returns the drop count."""
    print("(a) untouched pools\n")
    print(f"{'pool':26} {'samples':>7} {'with code':>9} {'dropped':>7} {'drop rate':>9} {'CPU s':>6} {'wall s':>6}")
    drops = 0
    flagged: list[tuple[Sample, str]] = []
    found: Counter[tuple[str, str]] = Counter()
    for name, samples in pools.items():
        cpu, wall = time.process_time(), time.perf_counter()
        verdicts = screen(samples)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        with_code = sum(1 for v in verdicts if v.scores.get("code_blocks"))
        dropped = [(s, f"{v.reason}: {v.detail}") for s, v in zip(samples, verdicts, strict=True) if not v.keep]
        drops += len(dropped)
        flagged.extend(dropped)
        for sample in samples:
            for block in find_code(sample.response):
                found[(block.language or "unknown (not checked)", _how(block))] += 1
        print(f"{name:26} {len(samples):7} {with_code:9} {len(dropped):7} {len(dropped) / len(samples):9.2%} "
              f"{cpu:6.2f} {wall:6.2f}")
    print("\nblocks found, by language and how:")
    for (language, how), count in sorted(found.items(), key=lambda kv: -kv[1]):
        print(f"  {language:24} {how:18} {count:5}")
    print(f"\nevery drop on the untouched pools ({len(flagged)}), to inspect:")
    for sample, why in flagged[:show]:
        print(f"- {sample.source}: {sample.instruction[:70]!r}\n    {why[:220]}")
    return drops


def _how(block: object) -> str:
    return "fenced, tagged" if block.tagged else "fenced, untagged" if block.fenced else "unfenced"  # type: ignore[attr-defined]


def planted(screen: CodeScreen, pools: dict[str, list[Sample]], seed: int, false_drops: int) -> None:
    """Part (b): recall, line accuracy and precision on planted errors."""
    rng = random.Random(seed)
    rows: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    by_shown: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[str] = []
    wrong_language = 0
    for samples in pools.values():
        for sample in samples:
            for block in find_code(sample.response):
                if block.language not in MUTATIONS or check(block.language, block.code) is not None:
                    continue
                for kind, mutate in MUTATIONS[block.language].items():
                    edit = mutate(block.code, rng)
                    row = rows[(block.language, kind)]
                    if edit is None:
                        continue
                    code, line = edit
                    if check(block.language, code) is None:
                        row["no-op"] += 1
                        continue
                    for shown in SHOWN:
                        response, at = _present(sample.response, block, code, line, shown)
                        verdict = screen.assess(_with_response(sample, response))
                        row["planted"] += 1
                        by_shown[shown]["planted"] += 1
                        if verdict.reason == f"code_syntax:{block.language}":
                            row["found"] += 1
                            by_shown[shown]["found"] += 1
                            near = re.search(r"line (\d+)", verdict.detail or "")
                            row["line"] += bool(near and abs(int(near.group(1)) - at) <= 1)
                        elif verdict.keep:
                            misses.append(f"{block.language}/{kind}/{shown}: {sample.source} line {at}: "
                                          f"{response.splitlines()[at - 1][:70]!r}")
                        else:
                            wrong_language += 1
    print(f"\n(b) planted syntax errors (seed {seed})\n")
    print(f"| language | kind | planted | found | recall | line named (±1) | no-op edits |")
    print("|---|---|---:|---:|---:|---:|---:|")
    total = Counter[str]()
    for (language, kind), row in sorted(rows.items()):
        total.update(row)
        print(f"| {language} | {kind} | {row['planted']} | {row['found']} | {_share(row['found'], row['planted'])} "
              f"| {_share(row['line'], row['found'])} | {row['no-op']} |")
    print(f"| all | | {total['planted']} | {total['found']} | {_share(total['found'], total['planted'])} "
          f"| {_share(total['line'], total['found'])} | {total['no-op']} |")
    print("\n| shown | planted | found | recall |\n|---|---:|---:|---:|")
    for shown in SHOWN:
        row = by_shown[shown]
        print(f"| {shown} | {row['planted']} | {row['found']} | {_share(row['found'], row['planted'])} |")
    drops = total["found"] + wrong_language + false_drops
    print(f"\nprecision: {total['found']} right drops of {drops} "
          f"({_share(total['found'], drops)}; {false_drops} on the untouched pools, {wrong_language} under another "
          f"language)")
    print(f"\nmissed plants ({len(misses)}):")
    for miss in misses[:25]:
        print("- " + miss)


def _present(response: str, block: object, code: str, line: int, shown: str) -> tuple[str, int]:
    """The response with the block replaced by `code`, shown one of three ways; and the edited line's number."""
    lines = response.split("\n")
    first = block.line - 1  # type: ignore[attr-defined]
    count = len(block.code.split("\n"))  # type: ignore[attr-defined]
    if block.fenced:  # type: ignore[attr-defined]
        first, count = first - 1, count + 2  # the fences go too: the block is fenced anew below
    body = code.split("\n")
    if shown == "as in the data":  # as the original had it: unfenced, or in its own fence
        tag = block.language if block.tagged else ""  # type: ignore[attr-defined]
        new = [f"```{tag}", *body, "```"] if block.fenced else body  # type: ignore[attr-defined]
    else:
        new = [f"```{block.language if shown == 'fenced, tagged' else ''}", *body, "```"]  # type: ignore[attr-defined]
    offset = 1 if new[0].startswith("```") else 0
    return "\n".join(lines[:first] + new + lines[first + count:]), first + offset + line


def executed(pools: dict[str, list[Sample]]) -> None:
    """Part (c): the pools' Python blocks that parse, run in the sandbox: how many ran, were skipped, failed."""
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    cpu, wall = _child_cpu(), time.perf_counter()
    for samples in pools.values():
        for sample in samples:
            for block in find_code(sample.response):
                if block.language != "python" or check("python", block.code) is not None:
                    continue
                result = run_python(block.code, timeout=5, given=given_values(sample.instruction))
                kind = ("failed" if result.failed else "timed out" if result.timed_out else "ran" if result.ran
                        else "not run: " + (result.note or "").split(":")[1].strip().split(",")[0].split(" ")[0])
                outcomes[kind] += 1
                if result.failed:
                    failures.append(f"- {sample.source}: {sample.instruction[:60]!r}: line {result.line}: {result.error}")
    cpu, wall = _child_cpu() - cpu, time.perf_counter() - wall
    print(f"\n(c) the pools' parsing Python run in the sandbox ({isolation()}; {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU in the children)\n")
    print("| outcome | blocks |\n|---|---:|")
    for kind, n in outcomes.most_common():
        print(f"| {kind} | {n} |")
    print("\nevery runtime failure, to inspect:")
    print("\n".join(failures) or "(none)")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _with_response(sample: Sample, response: str) -> Sample:
    messages = list(sample.messages)
    last = max(i for i, m in enumerate(messages) if m.role == "assistant")
    messages[last] = Message(role="assistant", content=response)
    return Sample.create(messages, source=sample.source)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


if __name__ == "__main__":
    main()
