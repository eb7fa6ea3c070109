"""Read the records of a JSON array file, one element at a time, locating every problem."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core import json_values
from assay.core.errors import InputError
from assay.core.json_values import ValueProblem
from assay.core.raw_input import Invalid, open_bytes, too_big

# Structure only: a whole string (any characters, raw control ones included, escapes skipped),
# a bracket, a brace or a comma; a lone quote is a string that never closes.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]|"', re.DOTALL)
_CLOSES = {"[": "]", "{": "}"}


def json_array(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    """One item per element of the array, then one Invalid for anything after it.

    Each element is parsed on its own. Where json cannot parse one (a raw control character
    in a string, a stray BOM, a missing colon), a structural scan finds where the element
    ends, so it alone is invalid. Only a broken structure (a string or bracket that never
    closes) ends the file, and the error says how much could not be read. Undecodable bytes
    are kept as surrogate escapes, so they invalidate only the record whose string holds them.
    """
    with open_bytes(path) as handle:
        text = handle.read().removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    pos, line, counted_to, index = _skip(text, text.index("[") + 1), 1, 0, 0
    if pos < len(text) and text[pos] == "]":
        yield from _after_array(path, text, pos + 1)
        return
    while True:
        line += text.count("\n", counted_to, pos)
        counted_to, at = pos, f" (record [{index}] of the array)"
        problem, field, end = None, None, None
        try:
            record, end = json_values.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            problem = _bom(text, pos) or json_values.syntax_message(err, line)
        except ValueProblem as value_problem:
            problem, field, end = str(value_problem), value_problem.field, value_problem.end
        after = len(text) if end is None else _skip(text, end)
        if problem is None and after == len(text):  # a whole last record, then no ']'
            yield from _record(path, line, text, pos, end, record, limit)
            yield Invalid(InputError(path, text.count("\n") + 1, "invalid JSON: the array is not closed: the file "
                                                                   "ends without ']'"), "")
            return
        if after == len(text) or text[after] not in ",]":
            # json cannot say where this element ends: the structure can, so it costs only itself.
            if problem is None:
                problem = f"invalid JSON: unexpected text after the record at {_where(text, after, line)}"
            after, broken = _element_end(text, pos, line)
            if broken:
                lost = text[pos:]
                size, lines = len(lost.encode("utf-8", "surrogateescape")), lost.count("\n") + (not lost.endswith("\n"))
                message = (f"{problem}{at}; {broken}, so the rest of the file from here "
                           f"({lines} line{'s' * (lines != 1)}, {size} bytes) could not be read")
                yield Invalid(InputError(path, line, message, field=field), _cut(lost))
                return
        if problem is not None:
            if not text[pos:after].strip():  # json would say "Expecting value", which hides why
                problem = "invalid JSON: a ',' with no record after it"
            yield Invalid(InputError(path, line, f"{problem}{at}", field=field), _cut(text[pos:after]))
        else:
            yield from _record(path, line, text, pos, end, record, limit)
        index += 1
        if text[after] == "]":
            yield from _after_array(path, text, after + 1)
            return
        pos = _skip(text, after + 1)


def _record(path: Path, line: int, text: str, pos: int, end: int, record: Any, limit: int
            ) -> Iterator[tuple[int, Any, str] | Invalid]:
    yield too_big(path, line, end - pos, limit) if end - pos > limit else (line, record, text[pos:end])


def _element_end(text: str, pos: int, line: int) -> tuple[int, str | None]:
    """Where the element at `pos` ends (its ',' or the array's ']'), or why no one can tell."""
    open_marks: list[tuple[str, int]] = []
    for token in _STRUCTURE.finditer(text, pos):
        mark = token.group()
        if mark == '"':
            return len(text), f"a string at {_where(text, token.start(), line)} never closes"
        if mark[0] == '"':
            continue
        if mark in "[{":
            open_marks.append((mark, token.start()))
        elif mark in "]}":
            if not open_marks and mark == "]":
                return token.start(), None
            if not open_marks or _CLOSES[open_marks[-1][0]] != mark:
                opened = f"the '{open_marks[-1][0]}' at {_where(text, open_marks[-1][1], line)}" if open_marks else "nothing"
                return len(text), f"the brackets do not balance: '{mark}' at {_where(text, token.start(), line)} closes {opened}"
            open_marks.pop()
        elif not open_marks:  # a ',' between elements
            return token.start(), None
    return len(text), "the file ends inside this record, before the array's closing ']'"


def _where(text: str, pos: int, line: int) -> str:
    """'column C' on the element's first line `line`, else 'line L column C'."""
    at_line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"column {column}" if at_line == line else f"line {at_line} column {column}"


def _bom(text: str, pos: int) -> str | None:
    if text.startswith("\ufeff", pos):
        return "invalid JSON: a byte order mark (U+FEFF) before the record; remove it"
    return None


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
