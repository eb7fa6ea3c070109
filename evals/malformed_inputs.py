"""Malformed sample files, each paired with what a reader must say about it and keep from it.

    python evals/malformed_inputs.py OUT_DIR [--count 1000] [--seed 0]

`write_malformed(folder)` writes files in every container (JSONL, JSON array, Parquet, and
gzip-compressed JSON) and every record format (Alpaca, ShareGPT, OpenAI messages), each with
one defect among valid records: truncation, wrong types, invalid UTF-8, NUL bytes, BOMs,
deep nesting, huge records, empty conversations, non-string roles, wrong Parquet columns,
lone surrogates, NaN/Infinity, huge integers, non-objects and text after a JSON array.

Each `Case` says where the first error must point (line or row, and field; None where the
problem is below any field, such as a JSON syntax error, or a file unreadable as a whole)
and which valid records `--skip-invalid` must keep, in order. Read every case with
`max_record_bytes=HUGE_LIMIT_BYTES` (`--max-record-mb 1`): the huge records are just over it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HUGE_LIMIT_BYTES = 1_000_000
KINDS = ("truncated", "wrong_type", "invalid_utf8", "nul_byte", "bom", "deep_nesting", "huge_record",
         "empty_conversation", "non_string_role", "wrong_parquet_columns", "lone_surrogate", "nan_infinity",
         "huge_integer", "not_an_object", "after_array")
CONTAINERS = ("jsonl", "json", "parquet")
FORMATS = ("alpaca", "sharegpt", "openai")
JSON_ONLY = {"bom", "deep_nesting", "lone_surrogate", "huge_integer", "not_an_object", "nul_byte"}
# Defects after which no reader can find the next record of a JSON array: placed last there.
# (A NUL or a BOM inside an array costs only its own element: records follow them.)
BREAKS_ARRAY = {"truncated"}
WHEN = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@dataclass
class Case:
    """One malformed file and what reading it must give."""

    path: Path
    kind: str
    container: str
    format: str
    line: int | None  # line (row for Parquet) of the first error; None: the file as a whole
    field: str | None  # its field; None: below any field (syntax, encoding, size) or the whole file
    valid: list[dict[str, Any]] = field(default_factory=list)  # what --skip-invalid keeps, in order

    @property
    def whole_file(self) -> bool:
        """True when the file cannot be read at all (no record is kept even with --skip-invalid)."""
        return self.line is None


@dataclass
class _Bad:
    """A defective record: its text (JSON containers) or row (Parquet), and its first error's field."""

    text: bytes | None
    row: dict[str, Any] | None
    field: str | None


def valid_record(fmt: str, n: int, rng: random.Random) -> dict[str, Any]:
    """A valid record of the format, unique by `n`, sometimes with a system prompt or earlier turns."""
    system = rng.random() < 0.4
    if fmt == "alpaca":
        record: dict[str, Any] = {"id": f"a{n}", "instruction": f"Explain item {n}.", "input": "",
                                  "output": f"Item {n} is explained.", "category": rng.choice(["qa", "math"])}
        if system:
            record["system"] = "Answer briefly."
        return record
    turns = [("system", "Be brief.")] if system else []
    turns += [("user", f"Question {n}?"), ("assistant", f"Answer {n}."), ("user", f"Why {n}?"), ("assistant", "Because.")]
    if fmt == "sharegpt":
        speaker = {"system": "system", "user": "human", "assistant": "gpt"}
        return {"id": f"c{n}", "conversations": [{"from": speaker[r], "value": t} for r, t in turns]}
    return {"messages": [{"role": r, "content": t} for r, t in turns], "tag": f"m{n}"}


def _turns_key(fmt: str) -> tuple[str, str, str]:
    return {"sharegpt": ("conversations", "from", "value"), "openai": ("messages", "role", "content")}[fmt]  # type: ignore[return-value]


def _content_field(fmt: str, record: dict[str, Any]) -> tuple[str, list[Any], Any]:
    """Path, container and key of a content string to damage (the first user turn)."""
    if fmt == "alpaca":
        return "instruction", record, "instruction"  # type: ignore[return-value]
    key, role_key, text_key = _turns_key(fmt)
    i = next(i for i, t in enumerate(record[key]) if t[role_key] in ("human", "user"))
    return f"{key}[{i}].{text_key}", record[key][i], text_key


def bad_json_record(kind: str, fmt: str, n: int, rng: random.Random) -> _Bad:
    """A defective record as the bytes of a JSON value (no trailing newline)."""
    record = valid_record(fmt, n, rng)
    dumps = lambda r: json.dumps(r, ensure_ascii=False).encode()  # noqa: E731
    path, holder, key = _content_field(fmt, record)
    if kind == "truncated":
        text = dumps(record)
        return _Bad(text[: rng.randrange(1, len(text) - 1)].rstrip(), None, None)
    if kind == "wrong_type":
        holder[key] = rng.choice([5, 2.5, True, ["x"], {"text": "x"}, None])
        # OpenAI content may be a list of parts: the error then names the bad part.
        return _Bad(dumps(record), None, f"{path}[0]" if fmt == "openai" and holder[key] == ["x"] else path)
    if kind in ("invalid_utf8", "nul_byte", "lone_surrogate"):
        marker = {"invalid_utf8": "@@BAD@@", "nul_byte": "@@NUL@@", "lone_surrogate": "@@SUR@@"}[kind]
        holder[key] = holder[key] + marker
        raw = {"invalid_utf8": rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82"]), "nul_byte": b"\x00",
               "lone_surrogate": rng.choice([b"\\ud800", b"\\udfff", b"\\udbff x"])}[kind]
        return _Bad(dumps(record).replace(marker.encode(), raw), None, None if kind == "nul_byte" else path)
    if kind == "bom":
        return _Bad(b"\xef\xbb\xbf" + dumps(record), None, None)
    if kind == "deep_nesting":
        depth = rng.choice([150, 1000, 5000])
        text = dumps({**record, "meta": None}).replace(b'"meta": null', b'"meta": ' + b"[" * depth + b"]" * depth)
        return _Bad(text, None, "meta")
    if kind == "huge_record":
        holder[key] = "y" * (HUGE_LIMIT_BYTES + rng.randrange(1, 50_000))
        return _Bad(dumps(record), None, None)
    if kind == "empty_conversation":
        if fmt == "alpaca":
            record.pop("output")
            return _Bad(dumps(record), None, "output")
        record[_turns_key(fmt)[0]] = rng.choice([[], None]) if fmt == "openai" else []
        return _Bad(dumps(record), None, _turns_key(fmt)[0])
    if kind == "non_string_role":
        if fmt == "alpaca":
            record["instruction"] = {"role": "user", "content": "x"}
            return _Bad(dumps(record), None, "instruction")
        key_, role_key, _ = _turns_key(fmt)
        record[key_][0][role_key] = rng.choice([1, None, ["user"], {"r": "user"}])
        return _Bad(dumps(record), None, f"{key_}[0].{role_key}")
    if kind == "nan_infinity":
        literal = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999"])
        return _Bad(dumps({**record, "score": 0}).replace(b'"score": 0', b'"score": ' + literal), None, "score")
    if kind == "huge_integer":
        return _Bad(dumps({**record, "n": 0}).replace(b'"n": 0', b'"n": ' + b"7" * rng.randrange(4301, 9000)), None, "n")
    if kind == "not_an_object":
        return _Bad(rng.choice([b"[1, 2]", b'"text"', b"null", b"42"]), None, "(record)")
    raise ValueError(f"no JSON defect {kind!r}")


def bad_parquet_row(kind: str, fmt: str, n: int, rng: random.Random) -> _Bad:
    """A defective Parquet row, typed like the valid rows beside it."""
    record = valid_record(fmt, n, rng)
    path, holder, key = _content_field(fmt, record)
    if kind == "wrong_type":
        holder[key] = None
        return _Bad(None, record, path)
    if kind == "invalid_utf8":
        return _Bad(None, {**record, "blob": rng.choice([b"\xff\xfe", b"\xc3\x28"])}, "blob")
    if kind == "huge_record":
        holder[key] = "y" * (HUGE_LIMIT_BYTES + rng.randrange(1, 50_000))
        return _Bad(None, record, None)
    if kind == "empty_conversation":
        if fmt == "alpaca":
            record["output"] = None
            return _Bad(None, record, "output")
        record[_turns_key(fmt)[0]] = []
        return _Bad(None, record, _turns_key(fmt)[0])
    if kind == "non_string_role":
        if fmt == "alpaca":
            record["instruction"] = None
            return _Bad(None, record, "instruction")
        key_, role_key, _ = _turns_key(fmt)
        record[key_][0][role_key] = None
        return _Bad(None, record, f"{key_}[0].{role_key}")
    if kind == "wrong_parquet_columns":
        content = {"alpaca": ("instruction", "input", "output", "system"), "sharegpt": ("conversations",),
                   "openai": ("messages",)}[fmt]
        # The row's own content columns are null: the error names the first one the format needs.
        return _Bad(None, {**{k: None for k in content}, "prompt": f"P{n}", "completion": f"C{n}"}, content[0])
    if kind == "nan_infinity":
        return _Bad(None, {**record, "score": rng.choice([float("nan"), float("inf"), float("-inf")])}, "score")
    raise ValueError(f"no Parquet defect {kind!r}")


def _applies(kind: str, container: str) -> bool:
    """Whether a defect exists in a container (no Parquet NaN literal, no JSON wrong columns...)."""
    if container == "parquet":
        return kind not in JSON_ONLY and kind != "after_array"
    return kind not in ("wrong_parquet_columns",) and (kind != "after_array" or container == "json")


def _write_json_case(path: Path, kind: str, container: str, fmt: str, n: int, rng: random.Random) -> Case:
    before = [valid_record(fmt, n + i, rng) for i in range(rng.randrange(0, 4))]
    last = container == "json" and kind in BREAKS_ARRAY
    after = [] if last else [valid_record(fmt, n + 10 + i, rng) for i in range(rng.randrange(0, 4))]
    encode = lambda r: json.dumps(r, ensure_ascii=False).encode()  # noqa: E731
    bom = b"\xef\xbb\xbf" if rng.random() < 0.1 and kind != "bom" else b""  # a leading BOM is fine
    if kind == "after_array":
        body = b"[\n" + b",\n".join(encode(r) for r in before + after) + b"\n]\n"
        trailer = rng.choice([b"garbage", encode(valid_record(fmt, n + 99, rng)), b"]", b"[]", b"\x00"])
        line = body.count(b"\n") + 1
        data, bad_line, bad_field, valid = bom + body + trailer + b"\n", line, None, before + after
    else:
        bad = bad_json_record(kind, fmt, n + 50, rng)
        texts = [encode(r) for r in before] + [bad.text] + [encode(r) for r in after]
        if container == "jsonl":
            if kind == "bom" and not before:  # a BOM on line 1 is allowed: give it a valid line first
                before = [valid_record(fmt, n + 5, rng)]
                texts = [encode(before[0])] + texts
            data, bad_line = bom + b"\n".join(texts) + b"\n", len(before) + 1
        else:
            closing = b"" if kind == "truncated" else b"\n]\n"
            data, bad_line = bom + b"[\n" + b",\n".join(texts) + closing, len(before) + 2
        if container == "jsonl" and kind == "invalid_utf8":
            bad_field = None  # a JSONL line that is not UTF-8 is refused whole, before any field
        else:
            bad_field = bad.field
        valid = before + after
    if rng.random() < 0.1:
        path, data = path.with_name(path.name + ".gz"), gzip.compress(data)
    path.write_bytes(data)
    return Case(path, kind, container, fmt, bad_line, bad_field, valid)


def _write_parquet_case(path: Path, kind: str, fmt: str, n: int, rng: random.Random) -> Case:
    import pyarrow as pa
    import pyarrow.parquet as pq

    before = [valid_record(fmt, n + i, rng) for i in range(rng.randrange(1, 4))]
    after = [valid_record(fmt, n + 10 + i, rng) for i in range(rng.randrange(0, 3))]
    if kind == "truncated":
        rows: list[dict[str, Any]] = before + after
        bad = None
    else:
        bad = bad_parquet_row(kind, fmt, n + 50, rng)
        rows = [*before, bad.row, *after]  # type: ignore[list-item]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    filler = {"blob": b"ok", "score": 1.0}
    table_rows = [{**{k: r.get(k, filler.get(k)) for k in columns}, "created": WHEN} for r in rows]
    pq.write_table(pa.Table.from_pylist(table_rows), path)
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(8, len(data) - 8)])
        return Case(path, kind, "parquet", fmt, None, None, [])
    read_back = [{**r, "created": WHEN.isoformat(), **({"blob": "ok"} if "blob" in r else {})} for r in table_rows]
    position = len(before)
    return Case(path, kind, "parquet", fmt, position + 1, bad.field,
                read_back[:position] + read_back[position + 1:])


COMBOS = [(k, c, f) for k in KINDS for c in CONTAINERS for f in FORMATS if _applies(k, c)]


def write_malformed(folder: str | Path, count: int = 1000, seed: int = 0, *, only: list[int] | None = None) -> list[Case]:
    """Write `count` malformed files into `folder`; returns the cases, in a fixed order for a seed.

    Case i cycles through every (defect, container, format) combination and has its own
    random stream, so `only` (a list of case numbers) writes exactly those cases of the full set.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for i in range(count) if only is None else only:
        rng = random.Random(f"{seed}:{i}")
        kind, container, fmt = COMBOS[i % len(COMBOS)]
        path = folder / f"{i:05d}_{kind}_{fmt}.{container}"
        if container == "parquet":
            cases.append(_write_parquet_case(path, kind, fmt, i * 100, rng))
        else:
            cases.append(_write_json_case(path, kind, container, fmt, i * 100, rng))
    return cases


def manifest(cases: list[Case]) -> list[dict[str, Any]]:
    """The cases as JSON rows (path, kind, container, format, line, field, valid count)."""
    return [{"path": str(c.path), "kind": c.kind, "container": c.container, "format": c.format, "line": c.line,
             "field": c.field, "valid": len(c.valid)} for c in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cases = write_malformed(args.out, args.count, args.seed)
    (args.out / "manifest.json").write_text(json.dumps(manifest(cases), indent=1), encoding="utf-8")
    print(f"wrote {len(cases)} malformed files and manifest.json to {args.out}")


if __name__ == "__main__":
    main()
