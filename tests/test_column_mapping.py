"""Column mapping (`--field NAME=COLUMN`): files whose columns or keys are named otherwise read as
the canonical Alpaca fields, as Data-Juicer's text_keys do (issue 13, "Errors")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.errors import ConfigError, InputError
from assay.core.field_map import FieldMap
from assay.core.readers import Invalid, Read, read_samples

ROWS = [
    {"instruction": "Add 2 and 3", "input": "", "output": "5", "system": "Be brief."},
    {"instruction": "Say hi, politely", "input": "to Bob", "output": "Hello,\nBob!", "system": ""},
    {"instruction": "Name a colour", "input": "a warm one", "output": "Red", "system": "You are a painter."},
]
ODD = {"instruction": "question", "input": "context", "output": "answer", "system": "sys"}
MAPPING = FieldMap.parse([f"{name}={column}" for name, column in ODD.items()])


def _delimited(path: Path, names: list[str], rows: list[dict[str, str]], sep: str) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(names)
        writer.writerows([[row[key] for key in ODD] for row in rows])
    return path


def _renamed(row: dict[str, Any]) -> dict[str, Any]:
    return {ODD.get(key, key): value for key, value in row.items()}


def _samples(path: Path, fields: FieldMap = FieldMap()) -> list[Any]:
    shape, items = read_samples(path, fields=fields)
    read = list(items)
    assert all(isinstance(item, Read) for item in read), read
    # `source` names the file; everything else (id, messages, origin record and format) must agree.
    return [shape, *[item.sample.model_dump(exclude={"source"}) for item in read]]


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_a_delimited_file_with_odd_columns_reads_as_the_canonical_one(tmp_path: Path, suffix: str, sep: str) -> None:
    canonical = _delimited(tmp_path / f"canonical{suffix}", list(ODD), ROWS, sep)
    odd = _delimited(tmp_path / f"odd{suffix}", list(ODD.values()), ROWS, sep)
    assert _samples(odd, MAPPING) == _samples(canonical)
    shape, first, *_ = _samples(odd, MAPPING)
    assert (shape.container, shape.format) == ("csv", "alpaca")
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]


@pytest.mark.parametrize("container", ["jsonl", "json", "parquet"])
def test_json_and_parquet_records_with_odd_keys_read_as_the_canonical_ones(tmp_path: Path, container: str) -> None:
    def write(path: Path, rows: list[dict[str, Any]]) -> Path:
        if container == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        elif container == "json":
            path.write_text(json.dumps(rows))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), path)
        return path

    canonical = write(tmp_path / f"canonical.{container}", ROWS)
    odd = write(tmp_path / f"odd.{container}", [_renamed(r) for r in ROWS])
    assert _samples(odd, MAPPING) == _samples(canonical)


def test_unmapped_columns_stay_and_response_names_output(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    path.write_text("id,q,a\n7,Add 2 and 3,5\n")
    _, sample = _samples(path, FieldMap.parse(["instruction=q", "response=a"]))
    assert sample["origin"]["record"] == {"id": "7", "instruction": "Add 2 and 3", "output": "5"}


def test_a_column_may_take_a_canonical_name_that_another_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"instruction": "context text", "question": "Q?", "output": "A"}) + "\n")
    _, sample = _samples(path, FieldMap.parse(["input=instruction", "instruction=question"]))
    assert sample["messages"][0]["content"] == "Q?\n\ncontext text"


@pytest.mark.parametrize("specs, message", [
    (["prompt=question"], "unknown field 'prompt'; map a column onto one of instruction, input, output"),
    (["instruction"], "expected NAME=COLUMN"),
    (["instruction="], "expected NAME=COLUMN"),
    (["=question"], "expected NAME=COLUMN"),
    (["instruction=a", "instruction=b"], "'instruction' is already mapped to column 'a'"),
    (["instruction=a", "input=a"], "column 'a' is already mapped to 'instruction'"),
])
def test_a_bad_flag_is_one_line_naming_it(specs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match="--field") as caught:
        FieldMap.parse(specs)
    assert message in str(caught.value) and specs[-1] in str(caught.value)


def test_a_column_missing_from_the_header_names_file_line_1_column_and_the_columns(tmp_path: Path) -> None:
    path = _delimited(tmp_path / "pool.csv", list(ODD.values()), ROWS, ",")
    with pytest.raises(InputError) as caught:  # the file as a whole: raised before any record comes back
        read_samples(path, fields=FieldMap.parse(["instruction=quest", "output=answer"]))
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), 1, "quest")
    assert str(error) == (f"{path}:line 1: field 'quest': no such column (--field instruction=quest); "
                          "columns present: question, context, answer, sys")


def test_a_header_column_that_a_mapping_would_overwrite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pool.tsv"
    path.write_text("instruction\tquestion\toutput\nold\tnew\tA\n")
    with pytest.raises(InputError, match=r"line 1: field 'instruction': the file has a 'instruction' column too"):
        _samples(path, FieldMap.parse(["instruction=question"]))


def test_a_record_missing_a_mapped_key_is_invalid_at_its_line_naming_key_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"q": "Add 2 and 3", "a": "5"}) + "\n" + json.dumps({"q": "Name a colour", "ans": "Red"}) + "\n")
    _, items = read_samples(path, fields=FieldMap.parse(["instruction=q", "output=a"]))
    good, bad = list(items)
    assert isinstance(good, Read) and isinstance(bad, Invalid)
    assert (bad.error.line, bad.error.field) == (2, "a")
    assert str(bad.error) == f"{path}:line 2: field 'a': no such key (--field output=a); keys present: q, ans"


def test_a_json_array_record_missing_a_key_is_named_by_its_index(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_text(json.dumps([{"q": "Add", "a": "5"}, {"q": "Name"}]))
    _, items = read_samples(path, fields=FieldMap.parse(["instruction=q", "output=a"]))
    bad = list(items)[1]
    assert isinstance(bad, Invalid) and "(record [1] of the array)" in str(bad.error) and bad.error.field == "a"


def test_without_a_mapping_an_odd_csv_points_at_the_flag(tmp_path: Path) -> None:
    path = _delimited(tmp_path / "pool.csv", list(ODD.values()), ROWS, ",")
    _, items = read_samples(path)
    first = next(items)
    assert isinstance(first, Invalid) and "found keys: answer, context, question, sys" in str(first.error)
    assert "--field instruction=question" in str(first.error)


def _score(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["score", *args, "--no-embed"], env={"ASSAY_HOME": str(tmp_path / "home"),
                                                                          "COLUMNS": "200"})


def test_score_reads_a_csv_through_field_flags(tmp_path: Path) -> None:
    odd = _delimited(tmp_path / "odd.csv", list(ODD.values()), ROWS, ",")
    out = tmp_path / "scored.jsonl"
    result = _score(tmp_path, str(odd), "--field", "instruction=question", "--field", "input=context",
                    "--field", "response=answer", "--field", "system=sys", "--out", str(out))
    assert result.exit_code == 0, result.output
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "_assay"} for r in written] == ROWS  # canonical names out
    assert all(r["_assay"]["status"] == "active" for r in written)


@pytest.mark.parametrize("flags, message", [
    (["--field", "question"], "--field 'question': expected NAME=COLUMN"),
    (["--field", "prompt=question"], "unknown field 'prompt'"),
    (["--field", "instruction=quest", "--field", "output=answer"],
     "odd.csv:line 1: field 'quest': no such column (--field instruction=quest); columns present: question, context"),
])
def test_score_refuses_a_bad_mapping_in_one_line_and_writes_nothing(tmp_path: Path, flags: list[str], message: str) -> None:
    odd = _delimited(tmp_path / "odd.csv", list(ODD.values()), ROWS, ",")
    out = tmp_path / "scored.jsonl"
    result = _score(tmp_path, str(odd), *flags, "--out", str(out))
    assert result.exit_code != 0 and isinstance(result.exception, (ConfigError, InputError))
    assert message in str(result.exception) and not out.exists()


def test_judge_refuses_field_with_pairwise(tmp_path: Path) -> None:
    odd = _delimited(tmp_path / "odd.csv", list(ODD.values()), ROWS, ",")
    result = CliRunner().invoke(app, ["judge", str(odd), "--pairwise", "--dry-run", "--field", "instruction=question",
                                      "--out", str(tmp_path / "j.jsonl")], env={"ASSAY_HOME": str(tmp_path / "home")})
    assert result.exit_code != 0 and "--field maps a sample file's columns" in str(result.exception)


def test_run_stores_the_mapping_so_resume_reads_the_inputs_the_same_way_and_the_trace_says_it(tmp_path: Path, runtime: Any) -> None:
    """`assay resume` rebuilds RunOptions from the session's meta and ingests from it: the mapping must survive."""
    from types import SimpleNamespace

    from assay.core.config import Config
    from assay.pipeline.deps import RunOptions
    from assay.pipeline.screen.pool import ingest_inputs
    from assay.session.session import Session

    odd = _delimited(tmp_path / "odd.csv", list(ODD.values()), ROWS, ",")
    stored = RunOptions(inputs=[str(odd)], fields=MAPPING.specs()).model_dump(mode="json")
    assert RunOptions.model_validate({"inputs": [str(odd)]}).fields == []  # a session from before the flag resumes
    session = Session.open(tmp_path / "session", runtime, Config(), create=True)
    try:
        deps = SimpleNamespace(session=session, options=RunOptions.model_validate(stored), emit=lambda kind, data: None)
        ingest_inputs(deps)
        instructions = sorted(s.instruction for s in session.samples.iter())
        event = session.conn.execute("SELECT data FROM events WHERE kind = 'ingest'").fetchone()
    finally:
        session.close()
    assert json.loads(event["data"])["fields"] == ["instruction=question", "input=context", "output=answer", "system=sys"]
    assert instructions == sorted(f"{r['instruction']}\n\n{r['input']}" if r["input"] else r["instruction"] for r in ROWS)


def test_select_reads_and_writes_a_mapped_csv(tmp_path: Path) -> None:
    odd = _delimited(tmp_path / "odd.csv", list(ODD.values()), ROWS, ",")
    out = tmp_path / "picked.jsonl"
    result = CliRunner().invoke(app, ["select", str(odd), "-n", "2", "--method", "random", "--out", str(out),
                                      *[arg for spec in MAPPING.specs() for arg in ("--field", spec)]],
                                env={"ASSAY_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    picked = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(picked) == 2 and all({k: v for k, v in r.items() if k != "_assay"} in ROWS for r in picked)


def test_expand_refuses_field_without_a_pool(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["expand", "five questions", "--dry-run", "--field", "instruction=question",
                                      "--out", str(tmp_path / "grown.jsonl")], env={"ASSAY_HOME": str(tmp_path / "home")})
    assert result.exit_code != 0 and "--field maps the columns of the --pool file" in str(result.exception)
