"""The soak eval's bad-input check: malformed files in all four formats, read as the CLI reads them.

Each case is a small file of valid records with one planted defect, and knows the line (or
row) and field an error must name, and how many valid records `--skip-invalid` must keep.
All cases go through `assay.pipeline.intake.ingest.read_inputs` in-process (what `assay ingest` and
`assay run` call first); a sample also goes through `assay ingest` as a subprocess, to check
the exit code and the one-line message end to end.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from soak_run import TRACEBACK, assay_cmd

LIMIT_MB = 0.1  # --max-record-mb for every check, so a "huge" record stays small on disk
DEFECTS = ("truncated", "wrong_type", "bad_utf8", "nul_byte", "mid_bom", "deep_nesting", "huge", "empty_turns",
           "bad_role", "lone_surrogate", "huge_int", "nan", "trailing_garbage", "parquet_columns")
FORMATS = ("alpaca-json", "alpaca-jsonl", "sharegpt-jsonl", "openai-jsonl", "parquet")


@dataclass(frozen=True)
class Case:
    """One malformed file and what a good error says about it."""

    path: Path
    defect: str
    line: int | None  # None: the file as a whole (any line named is fine)
    field: str | None  # None: no field to name (bad bytes, bad JSON)
    valid: int  # valid records that --skip-invalid must keep


def _record(fmt: str, i: int) -> dict:
    if fmt.startswith("sharegpt"):
        return {"id": i, "conversations": [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": f"Answer {i}."}]}
    if fmt.startswith("openai"):
        return {"id": i, "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]}
    return {"id": i, "instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."}


def _text_field(fmt: str) -> str:
    return {"sharegpt-jsonl": "conversations[1].value", "openai-jsonl": "messages[1].content"}.get(fmt, "output")


def _bad(fmt: str, defect: str, rng: random.Random) -> tuple[bytes, str | None, bool]:
    """(the bad record's bytes, the field to name, whether the defect ends the file)."""
    rec = _record(fmt, 999)
    text_field = _text_field(fmt)
    if defect == "wrong_type":
        return _set(rec, text_field, rng.choice([42, ["a list"], {"an": "object"}, True])), text_field, False
    if defect == "deep_nesting":
        depth = rng.choice([1000, 5000, 50000])
        return _set(rec, text_field, None).replace(b"null", b"[" * depth + b"]" * depth), None, False
    if defect == "huge":
        return _set(rec, text_field, "x" * int(LIMIT_MB * 1e6 * 1.5)), None, False
    if defect == "empty_turns":
        name = {"sharegpt-jsonl": "conversations", "openai-jsonl": "messages"}.get(fmt)
        if name is None:  # Alpaca has no turns: the answer is missing altogether
            del rec["output"]
            return json.dumps(rec).encode(), "output", False
        return _set(rec, name, []), name, False
    if defect == "bad_role":
        if fmt == "sharegpt-jsonl":
            return _set(rec, "conversations[0].from", rng.choice([3, None, ["human"]])), "conversations[0].from", False
        if fmt == "openai-jsonl":
            return _set(rec, "messages[0].role", rng.choice([3, None, "wizard"])), "messages[0].role", False
        return _set(rec, "instruction", None), "instruction", False
    raw = json.dumps(rec, ensure_ascii=False).encode()
    if defect == "truncated":
        return raw[: rng.randint(5, len(raw) - 2)], None, True
    if defect == "bad_utf8":
        return raw.replace(b"Answer", b"Ans\xff\xfewer"), None, False
    if defect == "nul_byte":
        return raw.replace(b"Answer", b"Ans\x00wer"), None, False
    if defect == "mid_bom":
        return b"\xef\xbb\xbf" + raw, None, False
    if defect == "lone_surrogate":
        return raw.replace(b"Answer", b"Ans\\ud800wer"), text_field, False
    if defect == "huge_int":
        return _set(rec, text_field, None).replace(b"null", b"7" * 5000), None, False
    if defect == "nan":
        return _set(rec, text_field, None).replace(b"null", rng.choice([b"NaN", b"Infinity", b"-Infinity"])), None, False
    raise ValueError(defect)


def _set(rec: dict, dotted: str, value: object) -> bytes:
    node: object = rec
    parts = re.findall(r"[^.\[\]]+", dotted)
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]  # type: ignore[index]
    last = parts[-1]
    node[int(last) if last.isdigit() else last] = value  # type: ignore[index]
    return json.dumps(rec, ensure_ascii=False).encode()


def make_cases(folder: Path, n: int, seed: int) -> list[Case]:
    """`n` malformed files under `folder`, defects and formats in turn, positions seeded."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for i in range(n):
        fmt, defect = FORMATS[i % len(FORMATS)], DEFECTS[(i // len(FORMATS)) % len(DEFECTS)]
        if fmt == "parquet" or defect == "parquet_columns":
            cases.append(_parquet_case(folder / f"case{i:05d}.parquet", defect, rng))
            continue
        cases.append(_text_case(folder, i, fmt, defect, rng))
    return cases


def _text_case(folder: Path, i: int, fmt: str, defect: str, rng: random.Random) -> Case:
    size, where = rng.randint(2, 6), 0
    good = [json.dumps(_record(fmt, k), ensure_ascii=False).encode() for k in range(size)]
    if defect == "trailing_garbage":
        bad, field, ends = b"", None, True
    else:
        bad, field, ends = _bad(fmt, defect, rng)
    where = size if ends else rng.randint(1 if defect == "mid_bom" else 0, size)  # a BOM on line 1 is allowed
    if fmt == "alpaca-json":
        path = folder / f"case{i:05d}.json"
        if defect == "trailing_garbage":
            body = b"[\n" + b",\n".join(good) + b"\n]" + rng.choice([b" garbage", b"\n" + good[0], b"\n]"])
            path.write_bytes(body)
            return Case(path, defect, None, None, size)
        rows = [*good[:where], bad, *good[where:]]
        path.write_bytes(b"[\n" + b",\n".join(rows) + (b"" if ends else b"\n]"))
        return Case(path, defect, None if ends else where + 2, field, size)
    path = folder / f"case{i:05d}.jsonl"
    if defect == "trailing_garbage":  # JSONL's version: a line that is not a record
        bad, where = rng.choice([b"garbage", b"[1, 2]", b"\"just a string\""]), rng.randint(0, size)
    rows = [*good[:where], bad, *good[where:]]
    path.write_bytes(b"\n".join(rows) + (b"" if ends else b"\n"))
    return Case(path, defect, where + 1, field if defect != "trailing_garbage" else None, size)


def _parquet_case(path: Path, defect: str, rng: random.Random) -> Case:
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = rng.randint(2, 6)
    rows = [_record("alpaca", k) for k in range(size)]
    where = rng.randint(0, size)
    if defect in ("parquet_columns", "truncated", "bad_utf8", "nul_byte", "mid_bom"):
        columns = rng.choice([["prompt", "completion"], ["question", "answer"], ["text"]])
        table = pa.table({c: [f"value {k}" for k in range(size)] for c in columns})
        pq.write_table(table, path)
        return Case(path, "parquet_columns", 1, "(record)", 0)
    if defect == "wrong_type":  # a Parquet column holds one type: every row's instruction is a number
        table = pa.table({"instruction": list(range(size)), "output": [f"Answer {k}." for k in range(size)]})
        pq.write_table(table, path)
        return Case(path, "parquet_wrong_type", 1, "instruction", 0)
    value = "x" * int(LIMIT_MB * 1.5e6) if defect == "huge" else None
    rows.insert(where, {"id": 999, "instruction": "Question?", "input": "", "output": value})
    pq.write_table(pa.Table.from_pylist(rows), path)
    named = None if defect == "huge" else "output"
    return Case(path, "parquet_huge" if defect == "huge" else "parquet_null_field", where + 1, named, size)


def check_in_process(case: Case) -> dict[str, object]:
    """Read one case as the CLI does, strict and with --skip-invalid; what came back."""
    from assay.core.errors import AssayError
    from assay.pipeline.intake.ingest import read_inputs

    limit = int(LIMIT_MB * 1e6)
    result: dict[str, object] = {"defect": case.defect}
    try:
        read_inputs([case.path], skip_invalid=False, max_record_bytes=limit)
        result["strict"] = "accepted"
    except AssayError as err:
        result["strict"] = "error" if good_message(str(err), case) else "vague"
        result["message"] = str(err)[:300]
    except Exception as err:  # noqa: BLE001 - what we measure: anything else is a traceback at the CLI
        result["strict"], result["message"] = "traceback", f"{type(err).__name__}: {str(err)[:200]}"
    try:
        kept = len(read_inputs([case.path], skip_invalid=True, max_record_bytes=limit).records)
        result["skip"] = "kept_all" if kept == case.valid else f"kept {kept} of {case.valid}"
    except AssayError:
        result["skip"] = f"file refused (kept 0 of {case.valid})" if case.valid else "kept_all"
    except Exception as err:  # noqa: BLE001
        result["skip"] = f"traceback: {type(err).__name__}"
    return result


def good_message(message: str, case: Case) -> bool:
    """One line that names the file, the line (or row) and, where there is one, the field."""
    if "\n" in message.strip() or case.path.name not in message:
        return False
    line_ok = re.search(r"\b(line|row) (\d+)", message)
    if line_ok is None or (case.line is not None and int(line_ok.group(2)) != case.line):
        return False
    return case.field is None or case.field in message


def check_cli(case: Case, session: Path, env: dict[str, str]) -> dict[str, object]:
    """`assay ingest` on one case: exit code 2 and one line on stderr naming file, line and field."""
    proc = subprocess.run(assay_cmd("ingest", str(case.path), "--session", str(session), "--max-record-mb", str(LIMIT_MB)),
                          env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    ok = proc.returncode == 2 and len(lines) == 1 and good_message(lines[0], case)
    return {"rc": proc.returncode, "ok": ok, "traceback": TRACEBACK in proc.stderr + proc.stdout,
            "stderr": proc.stderr[-300:]}


def bad_input(folder: Path, args: argparse.Namespace, env: dict[str, str]) -> dict:
    """Malformed files: in-process for all, through `assay ingest` for a seeded sample."""
    cases = make_cases(folder / "files", args.malformed, args.seed)
    results = [check_in_process(c) for c in cases]
    sample = random.Random(args.seed).sample(cases, min(args.cli_sample, len(cases)))
    cli = [check_cli(c, folder / "sessions" / c.path.stem, env) for c in sample]
    failures = [r for r in results if r["strict"] != "error" or r["skip"] != "kept_all"]
    by_defect: dict[str, list[int]] = {}
    for r in results:
        row = by_defect.setdefault(str(r["defect"]), [0, 0, 0])
        row[0] += 1
        row[1] += r["strict"] == "error"
        row[2] += r["skip"] == "kept_all"
    return {"files": len(cases), "good_error": sum(r["strict"] == "error" for r in results),
            "outcomes": {k: sum(r["strict"] == k for r in results) for k in ("error", "vague", "traceback", "accepted")},
            "skip_kept_all": sum(r["skip"] == "kept_all" for r in results), "by_defect": by_defect,
            "cli_files": len(cli), "cli_ok": sum(bool(r["ok"]) for r in cli), "cli_tracebacks": sum(bool(r["traceback"]) for r in cli),
            "cli_failures": [r for r in cli if not r["ok"]][:5], "failures": failures[:20]}
