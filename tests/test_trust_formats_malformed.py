"""Issue 11, defect 16: a sample of the generated malformed files, read in-process.

Every file must give an InputError (never another exception) naming the file, the line and
the field the generator planted the defect in, on one line; with --skip-invalid the reader
keeps exactly the valid records of the file. The soak eval runs all of them through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.core.errors import AssayError, InputError
from assay.pipeline.intake.ingest import read_inputs
from evals.malformed_inputs import COMBOS, HUGE_LIMIT_BYTES, KINDS, Case, write_malformed

# Combinations are ordered by defect, each defect with at least three: an even spread of 40
# over them takes every defect, in every container, and the case number picks a file variant.
SAMPLE = [round(j * len(COMBOS) / 40) + len(COMBOS) * (j % 9) for j in range(40)]


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    return write_malformed(tmp_path_factory.mktemp("malformed"), only=SAMPLE)


def test_the_sample_covers_every_defect_and_container(cases: list[Case]) -> None:
    assert {c.kind for c in cases} == set(KINDS)
    assert {c.container for c in cases} == {"jsonl", "json", "parquet"}


@pytest.mark.parametrize("index", range(len(SAMPLE)))
def test_each_malformed_file_gives_one_located_error_and_skip_keeps_its_valid_records(cases: list[Case], index: int) -> None:
    case = cases[index]
    try:
        read_inputs([case.path], skip_invalid=False, max_record_bytes=HUGE_LIMIT_BYTES)
    except AssayError as err:
        assert isinstance(err, InputError), repr(err)
        assert (err.path, err.line, err.field) == (str(case.path), case.line, case.field), str(err)
        assert "\n" not in str(err) and str(err).startswith(str(case.path))
    else:
        pytest.fail(f"{case.path.name}: no error")
    if case.whole_file:
        with pytest.raises(InputError):
            read_inputs([case.path], skip_invalid=True, max_record_bytes=HUGE_LIMIT_BYTES)
        return
    kept = read_inputs([case.path], skip_invalid=True, max_record_bytes=HUGE_LIMIT_BYTES)
    assert [s.origin.record for s in kept.records] == case.valid
    assert kept.invalid and kept.invalid[0].error.line == case.line
    for item in kept.invalid:  # the rejects file is written as UTF-8 JSON lines
        json.dumps({"raw": item.raw, "error": str(item.error)}, ensure_ascii=False).encode("utf-8")


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    first = write_malformed(tmp_path / "a", only=SAMPLE[:6])
    second = write_malformed(tmp_path / "b", only=SAMPLE[:6])
    assert [c.path.read_bytes() for c in first] == [c.path.read_bytes() for c in second]
    assert [(c.line, c.field, c.valid) for c in first] == [(c.line, c.field, c.valid) for c in second]
