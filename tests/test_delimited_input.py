"""CSV and TSV sample files: a header names the columns, each row is a record (issue 13)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from assay.core.errors import InputError
from assay.core.readers import Read, read_samples

CSV = 'instruction,input,output\n"Add 2 and 3",,5\n"Say hi, politely","to Bob","Hello,\nBob!"\n\n'


def records(path: Path) -> list:
    shape, items = read_samples(path)
    return [shape, *items]


def test_a_csv_reads_as_alpaca_with_quoted_commas_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    path.write_text(CSV)
    shape, first, second = records(path)
    assert (shape.container, shape.format) == ("csv", "alpaca")
    assert isinstance(second, Read) and second.line == 3 and second.sample.source == "pool.csv:3"
    assert [m.content for m in second.sample.messages] == ["Say hi, politely\n\nto Bob", "Hello,\nBob!"]
    assert isinstance(first, Read) and first.sample.messages[-1].content == "5"


def test_a_gzipped_tsv_reads_too(tmp_path: Path) -> None:
    path = tmp_path / "pool.tsv.gz"
    path.write_bytes(gzip.compress(b"instruction\toutput\nName a colour\tBlue\n"))
    shape, only = records(path)
    assert shape.container == "csv" and isinstance(only, Read) and only.sample.messages[-1].content == "Blue"


def test_a_short_row_is_invalid_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pool.tsv"
    path.write_text("instruction\tinput\toutput\nAdd 1\t\t2\nbad\trow\n")
    _, good, bad = records(path)
    assert isinstance(good, Read) and bad.error.line == 3 and "2 cells" in str(bad.error)


def test_a_csv_without_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    path.write_text("\n,,\n")
    with pytest.raises(InputError, match="no header row"):
        read_samples(path)
