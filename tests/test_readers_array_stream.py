"""The JSON array reader streams: a window of the file, never all of it, with the same records and errors."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from assay.core import readers_array
from assay.core.raw_input import Invalid
from assay.core.readers_array import json_array

LIMIT = 16_000_000
RECORD = {"instruction": "Summarise the text below in one sentence, naming its main claim.", "input": "lorem " * 120,
          "output": "A summary é 漢字 of the text. " * 8}


def _items(path: Path) -> list[Any]:
    """What the reader yields, errors as (line, field, message, raw) so that runs compare."""
    return [(item.error.line, item.error.field, item.error.message, item.raw) if isinstance(item, Invalid) else item
            for item in json_array(path, LIMIT)]


def test_a_big_array_is_read_in_a_bounded_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers_array, "CHUNK", 1 << 16)  # a 64 KiB window (1 MiB by default) in a file of 9 MB
    path = tmp_path / "big.json"
    count = 8000
    with path.open("w", encoding="utf-8") as handle:  # about 9 MB
        handle.write("[\n" + ",\n".join(json.dumps(RECORD, ensure_ascii=False) for _ in range(count)) + "\n]\n")
    size = path.stat().st_size
    seen = 0
    tracemalloc.start()
    try:
        for item in json_array(path, LIMIT):
            assert not isinstance(item, Invalid)
            seen += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert peak < size / 10, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"  # reading whole: over 1.5x the size


CASES = {
    "valid": '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "ü漢", "output": "ç"}\n]\n',
    "bom": '\ufeff[{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]',
    "missing colon": '[\n  {"instruction": "a", "output": "b"},\n  {"instruction" "c"},\n  {"instruction": "e", "output": "f"}\n]',
    "control char": '[{"instruction": "a\tb", "output": "x\u0001y"}, {"instruction": "c", "output": "d"}]',
    "trailing comma": '[{"instruction": "a", "output": "b"},\n]',
    "not closed": '[\n{"instruction": "a", "output": "b"}\n\n',
    "string never closes": '[\n{"instruction": "a", "output": "b"},\n{"instruction": "c, "output": "d"}\n,{"x": 1}]\n',
    "brackets": '[\n{"instruction": "a", "output": "b"},\n{"instruction": ["c"}, "output": "d"},\n{"x": 1}\n]',
    "junk after": '[{"instruction": "a", "output": "b"}]\n\n  trailing words\n',
    "empty": '  [ \n ]  \n',
    "empty then junk": '[]\nx',
    "text after a record": '[{"instruction": "a", "output": "b"} x, {"instruction": "c", "output": "d"}]',
    "numbers": '[{"instruction": "a", "output": "b", "n": 12345}, 678, {"instruction": "c", "output": "d"}]',
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
def test_where_the_window_ends_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                               chunk: int) -> None:
    path = tmp_path / "pool.json"
    path.write_bytes(CASES[name].encode("utf-8"))
    whole = _items(path)
    monkeypatch.setattr(readers_array, "CHUNK", chunk)  # records, strings and characters cut at every byte
    assert _items(path) == whole


def test_bad_bytes_and_gzip_stream_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'[{"instruction": "a\xff", "output": "b"},\n {"instruction": "c", "output": "\xc3\xa9"}]'
    plain, packed = tmp_path / "pool.json", tmp_path / "pool.json.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    whole = _items(plain)
    assert isinstance(whole[0], tuple) and whole[1][1] == {"instruction": "c", "output": "é"}
    monkeypatch.setattr(readers_array, "CHUNK", 3)
    assert _items(plain) == whole == _items(packed)
