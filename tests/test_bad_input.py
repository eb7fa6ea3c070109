"""Bad input gives one clear error naming file, line and field; --skip-invalid keeps going."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assay.core.errors import InputError
from assay.pipeline.intake.ingest import read_inputs

GOOD = '{"instruction": "Add 1 and 1.", "input": "", "output": "2"}'


def jsonl(tmp_path: Path, *lines: str | bytes, name: str = "pool.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines))
    return path


def first_error(path: Path, **kw: object) -> InputError:
    with pytest.raises(InputError) as caught:
        read_inputs([path], skip_invalid=False, max_record_bytes=int(kw.get("limit", 16_000_000)))
    return caught.value


CASES = {
    "invalid_json": ((GOOD, '{"instruction": "x", "output": }'), 2, None, "invalid JSON"),
    "missing_field": ((GOOD, GOOD.replace('"output": "2"', '"outptu": "2"')), 2, "output", "missing"),
    "wrong_type": ((GOOD, '{"instruction": "Add", "output": 5}'), 2, "output", "expected a string, got number 5"),
    "not_an_object": (('[1, 2]',), 1, "(record)", "expected a JSON object, got array"),
    "unknown_shape": (('{"prompt": "x", "completion": "y"}',), 1, "(record)", "found keys: completion, prompt"),
    "bad_role": (('{"messages": [{"role": "robot", "content": "x"}]}',), 1, "messages[0].role", "unsupported role"),
    "mixed_shapes": ((GOOD, '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'),
                     2, "(record)", "openai record in a alpaca file"),
}


@pytest.mark.parametrize("case", CASES)
def test_record_errors_name_file_line_and_field(tmp_path: Path, case: str) -> None:
    lines, line, field, text = CASES[case]
    err = first_error(jsonl(tmp_path, *lines))
    assert (err.line, err.field) == (line, field) and text in err.message
    assert str(err).startswith(f"{tmp_path / 'pool.jsonl'}:line {line}: ")


def test_non_utf8_is_located(tmp_path: Path) -> None:
    err = first_error(jsonl(tmp_path, GOOD, GOOD, b'{"instruction": "caf\xe9", "output": "x"}'))
    assert err.line == 3 and "not valid UTF-8 (byte 0xe9 at column 21)" in err.message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    err = first_error(path)
    assert err.line is None and "empty" in str(err)


def test_blank_lines_only(tmp_path: Path) -> None:
    assert "no records" in str(first_error(jsonl(tmp_path, "", "  ")))


def test_huge_single_record_is_refused_without_reading_it_as_data(tmp_path: Path) -> None:
    huge = json.dumps({"instruction": "x", "output": "y" * 50_000_000})
    err = first_error(jsonl(tmp_path, GOOD, huge))
    assert err.line == 2 and "50.0 MB, over the 16 MB limit" in err.message


def test_json_array_errors_carry_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": 3}\n]\n')
    err = first_error(path)
    assert (err.line, err.field) == (3, "output")
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]\n')
    assert first_error(path).line == 3


def test_skip_invalid_keeps_the_valid_records(tmp_path: Path) -> None:
    path = jsonl(tmp_path, GOOD, "{broken", b"\xff\xfe", GOOD.replace("1 and 1", "2 and 2").replace('"2"', '"4"'))
    read = read_inputs([path], skip_invalid=True, max_record_bytes=16_000_000)
    assert len(read.samples) == 2 and [i.error.line for i in read.invalid] == [2, 3]
    assert read.invalid[0].raw == "{broken"


def run_cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "ASSAY_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_reports_bad_input_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    path = jsonl(tmp_path, GOOD, '{"instruction": "Add", "output": 5}')
    done = run_cli("ingest", str(path), "--session", str(tmp_path / "s"), env_home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {path}:line 2: field 'output': expected a string, got number 5"
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "s").exists()  # nothing half-written


def test_cli_skip_invalid_writes_rejects(tmp_path: Path) -> None:
    path = jsonl(tmp_path, GOOD, '{"instruction": "Add", "output": 5}', "not json")
    done = run_cli("ingest", str(path), "--session", str(tmp_path / "s"), "--skip-invalid", env_home=tmp_path)
    assert done.returncode == 0, done.stderr
    rejects = [json.loads(l) for l in (tmp_path / "s" / "ingest_rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rejects] == [(2, "output"), (3, None)]
    assert rejects[1]["raw"] == "not json"
    assert "2 invalid records written" in done.stdout


def test_gzipped_pools_are_read_and_a_corrupt_one_is_named(tmp_path: Path) -> None:
    import gzip

    good = tmp_path / "pool.jsonl.gz"
    good.write_bytes(gzip.compress((GOOD + "\n" + GOOD.replace("1 and 1", "2 and 2") + "\n").encode()))
    assert len(read_inputs([good], skip_invalid=False, max_record_bytes=16_000_000).samples) == 2
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(((GOOD + "\n") * 50).encode())[:40])
    err = first_error(broken)
    assert err.path == str(broken) and "not a readable gzip file" in err.message
