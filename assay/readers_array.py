"""Read the records of a JSON array file, one element at a time, locating every problem."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay import json_values
from assay.errors import InputError
from assay.json_values import ValueProblem
from assay.readers import Invalid, open_bytes, too_big


def json_array(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    """One item per element of the array, then one Invalid for anything that breaks it.

    A syntax error leaves no safe place to resume inside one array, so it ends the file; the
    records before it still count. Undecodable bytes are kept as surrogate escapes, so they
    invalidate only the record whose string holds them.
    """
    with open_bytes(path) as handle:
        text = handle.read().removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    pos, line, counted_to = _skip(text, text.index("[") + 1), 1, 0
    if pos < len(text) and text[pos] == "]":
        yield from _after_array(path, text, pos + 1)
        return
    while True:
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            record, end = json_values.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            yield Invalid(InputError(path, err.lineno, f"invalid JSON: {err.msg} at column {err.colno}"), _cut(text[pos:]))
            return
        except ValueProblem as problem:
            end = problem.end if problem.end is not None else len(text)
            yield Invalid(InputError(path, line, str(problem), field=problem.field), _cut(text[pos:end]))
        else:
            if end - pos > limit:
                yield too_big(path, line, end - pos, limit)
            else:
                yield line, record, text[pos:end]
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            yield from _after_array(path, text, pos + 1)
            return
        where = text.count("\n", 0, pos) + 1
        yield Invalid(InputError(path, where, "invalid JSON: expected ',' or ']' between records"), _cut(text[pos:]))
        return


def _after_array(path: Path, text: str, pos: int) -> Iterator[Invalid]:
    """Text after the closing bracket was once dropped without a word: it is an error."""
    pos = _skip(text, pos)
    if pos < len(text):
        where = text.count("\n", 0, pos) + 1
        yield Invalid(InputError(path, where, "unexpected text after the array's closing ']': a JSON file holds one "
                                              "array of records"), _cut(text[pos:]))


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _cut(raw: str, keep: int = 65536) -> str:
    """Raw text for the rejects file: printable, and bounded (a truncated array's tail can be large)."""
    raw = json_values.printable_raw(raw)
    return raw if len(raw) <= keep else raw[:keep] + f"… <{len(raw) - keep} more characters not kept>"
