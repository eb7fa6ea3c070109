"""Issue 11, defect 16: input that used to give a traceback or silent loss.

Each case must give one InputError naming the file, the line and (where there is one) the
field; with --skip-invalid every valid record of the file must still be kept.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.core.errors import InputError
from assay.pipeline.intake.ingest import read_inputs

GOOD = {"instruction": "Add 1 and 1.", "input": "", "output": "2"}
OTHER = {"instruction": "Add 2 and 2.", "input": "", "output": "4"}
LIMIT = 16_000_000


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# (bad record text, its field or None for a syntax-level problem, words of the message)
BAD_RECORDS = {
    "lone_surrogate": ('{"instruction": "a\\ud800b", "output": "x"}', "instruction", "surrogate"),
    "surrogate_in_key": ('{"instruction": "a", "output": "x", "k\\udfff": 1}', "k\\udfff", "surrogate"),
    "deep_nesting": ('{"instruction": "a", "output": "x", "meta": ' + deep(1000) + "}", "meta", "nested"),
    "deep_but_parseable": ('{"instruction": "a", "output": "x", "meta": ' + deep(150) + "}", "meta", "nested"),
    "huge_integer": ('{"instruction": "a", "output": "x", "n": ' + "9" * 5000 + "}", "n", "digits"),
    "nan": ('{"instruction": "a", "output": "x", "score": NaN}', "score", "NaN"),
    "infinity": ('{"instruction": "a", "output": "x", "score": -Infinity}', "score", "Infinity"),
    "overflowing_float": ('{"instruction": "a", "output": "x", "score": 1e999}', "score", "finite"),
}


def read(path: Path, skip: bool):
    return read_inputs([path], skip_invalid=skip, max_record_bytes=LIMIT)


@pytest.mark.parametrize("case", BAD_RECORDS)
@pytest.mark.parametrize("container", ["jsonl", "json"])
def test_bad_values_are_one_located_error_and_skip_keeps_the_rest(tmp_path: Path, case: str, container: str) -> None:
    text, field, words = BAD_RECORDS[case]
    good, other = json.dumps(GOOD), json.dumps(OTHER)
    path = tmp_path / f"pool.{container}"
    if container == "jsonl":
        path.write_text(f"{good}\n{text}\n{other}\n", encoding="utf-8")
    else:
        path.write_text(f"[{good},\n{text},\n{other}\n]\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), 2, field), str(err)
    assert words in err.message and "\n" not in str(err)
    kept = read(path, skip=True)
    assert [s.origin.record for s in kept.samples] == [GOOD, OTHER]
    assert [i.error.line for i in kept.invalid] == [2]


@pytest.mark.parametrize("trailer", ["garbage", '{"instruction": "late", "output": "x"}', "]", "[]"])
def test_text_after_the_closing_bracket_is_an_error(tmp_path: Path, trailer: str) -> None:
    path = tmp_path / "pool.json"
    path.write_text(f"[{json.dumps(GOOD)}]\n{trailer}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert caught.value.line == 2 and "after the array" in caught.value.message
    kept = read(path, skip=True)
    assert [s.origin.record for s in kept.samples] == [GOOD] and len(kept.invalid) == 1


def test_a_truncated_array_keeps_the_records_before_the_break(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text(f"[\n{json.dumps(GOOD)},\n{json.dumps(OTHER)},\n" + '{"instruction": "cut', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert caught.value.line == 4 and "invalid JSON" in caught.value.message
    kept = read(path, skip=True)
    assert [s.origin.record for s in kept.samples] == [GOOD, OTHER] and [i.error.line for i in kept.invalid] == [4]


def test_invalid_utf8_inside_an_array_loses_only_that_record(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    bad = b'{"instruction": "caf\xe9", "output": "x"}'
    path.write_bytes(b"[\n" + json.dumps(GOOD).encode() + b",\n" + bad + b",\n" + json.dumps(OTHER).encode() + b"\n]\n")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert (caught.value.line, caught.value.field) == (3, "instruction") and "UTF-8" in caught.value.message
    kept = read(path, skip=True)
    assert [s.origin.record for s in kept.samples] == [GOOD, OTHER]


def test_parquet_timestamps_and_dates_become_iso_strings_that_store_and_write(tmp_path: Path, session) -> None:
    from assay.pipeline.intake.ingest import store_inputs
    from assay.core.readers import FileShape
    from assay.core.writers import write_samples

    path = tmp_path / "pool.parquet"
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    rows = [{**GOOD, "created": when, "day": dt.date(2024, 5, 1)}, {**OTHER, "created": when, "day": None}]
    pq.write_table(pa.Table.from_pylist(rows), path)
    result = read(path, skip=False)
    assert result.samples[0].origin.record["created"] == "2024-05-01T12:30:00+00:00"
    assert result.samples[0].origin.record["day"] == "2024-05-01"
    store_inputs(session, result)  # the store serialises the record as JSON
    back = session.samples.get([s.id for s in result.samples])
    write_samples(tmp_path / "out.parquet", back, result.files[0].shape)
    write_samples(tmp_path / "out.jsonl", back, FileShape("jsonl", "alpaca"))
    assert json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["created"] == "2024-05-01T12:30:00+00:00"


def test_parquet_nan_in_a_column_is_located(tmp_path: Path) -> None:
    path = tmp_path / "pool.parquet"
    pq.write_table(pa.Table.from_pylist([{**GOOD, "score": 1.0}, {**OTHER, "score": float("nan")}]), path)
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert (caught.value.line, caught.value.field, caught.value.unit) == (2, "score", "row")
    assert len(read(path, skip=True).samples) == 1


def test_cli_gives_one_line_and_exit_2_for_a_surrogate(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + BAD_RECORDS["lone_surrogate"][0] + "\n", encoding="utf-8")
    env = {**os.environ, "ASSAY_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "assay", "ingest", str(path), "--session", str(tmp_path / "s")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: {path}:line 2: field 'instruction': ") and len(done.stderr.splitlines()) == 1


def test_a_gzip_stream_cut_short_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    import gzip
    import random

    rng = random.Random(1)  # incompressible text, so the cut lands well inside the records
    rows = [{"instruction": f"Q{i} " + "".join(rng.choice("abcdefgh") for _ in range(200)), "output": "A"}
            for i in range(200)]
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path = tmp_path / "pool.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert caught.value.line is not None and "gzip" in caught.value.message
    kept = read(path, skip=True)
    got = [s.origin.record for s in kept.samples]
    assert len(got) > 50 and got == rows[: len(got)] and kept.invalid[-1].error.line == len(got) + 1


# Element [1] of a three-element array, on line 2, holds text json rejects but whose structure is
# sound: a structural scan finds where it ends, so with --skip-invalid only it is lost.
MIDDLE_DEFECTS = {
    "nul_in_string": ('{"instruction": "a\x00b", "output": "x"}', "control character U+0000"),
    "bom_before_record": ('\ufeff{"instruction": "a", "output": "x"}', "byte order mark"),
    "raw_tab_in_string": ('{"instruction": "a\tb", "output": "x"}', "control character U+0009"),
    "raw_newline_in_string": ('{"instruction": "a\nb", "output": "x"}', "control character U+000A"),
    "nul_in_nested_string": ('{"instruction": "a", "output": "x", "meta": {"k": ["\x00", "]}"]}}',
                             "control character U+0000"),
}


@pytest.mark.parametrize("case", MIDDLE_DEFECTS)
def test_a_bad_element_mid_array_loses_only_itself(tmp_path: Path, case: str) -> None:
    text, words = MIDDLE_DEFECTS[case]
    path = tmp_path / "pool.json"
    path.write_text(f"[{json.dumps(GOOD)},\n{text},\n{json.dumps(OTHER)},\n{json.dumps(GOOD | {'output': '3'})}\n]\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), 2, None), str(err)
    assert words in err.message and "record [1] of the array" in err.message and "\n" not in str(err), str(err)
    assert " at at " not in str(err)
    kept = read(path, skip=True)
    assert [s.origin.record for s in kept.samples] == [GOOD, OTHER, GOOD | {"output": "3"}]
    assert [i.error.line for i in kept.invalid] == [2]
    assert [s.source for s in kept.samples] == ["pool.json[0]", "pool.json[2]", "pool.json[3]"]


def test_the_control_character_message_says_at_once_in_jsonl_too(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + '{"instruction": "a\x00b", "output": "x"}' + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert str(caught.value) == (f"{path}:line 2: invalid JSON: raw control character U+0000 inside a string "
                                 "(write it as \\u0000) at column 19")


def test_a_multiline_element_is_named_by_its_first_line_and_the_error_by_its_own(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    bad = '{\n  "instruction": "a",\n  "output": "x\x01"\n}'
    path.write_text(f"[\n{json.dumps(GOOD)},\n{bad},\n{json.dumps(OTHER)}\n]\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(path, skip=False)
    assert caught.value.line == 3 and "U+0001" in caught.value.message and "at line 5 column" in caught.value.message
    assert [s.origin.record for s in read(path, skip=True).samples] == [GOOD, OTHER]


@pytest.mark.parametrize(("body", "what"), [
    ('{"instruction": "never closed, "output": "x"},\n' + json.dumps(OTHER) + "\n]\n", "string"),
    ('{"instruction": "a", "output": ["x"},\n' + json.dumps(OTHER) + "\n]\n", "brackets"),
])
def test_broken_structure_says_how_much_could_not_be_read(tmp_path: Path, body: str, what: str) -> None:
    path = tmp_path / "pool.json"
    path.write_text(f"[{json.dumps(GOOD)},\n{body}", encoding="utf-8")
    kept = read(path, skip=True)
    assert [s.origin.record for s in kept.samples] == [GOOD] and len(kept.invalid) == 1
    err = kept.invalid[0].error
    assert err.line == 2 and what in err.message and "could not be read" in err.message, str(err)
    assert "3 lines" in err.message and f"{len(body.encode())} bytes" in err.message, str(err)
