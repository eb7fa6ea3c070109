"""Read the records of a JSON array file, one element at a time, locating every problem.

The file is read in chunks into a window that holds the element being parsed and what follows
it, never the whole file: memory is bounded by the largest record, not the file. An element is
parsed again over a wider window only where the window ended inside it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from assay.core import json_values
from assay.core.errors import InputError
from assay.core.json_values import ValueProblem
from assay.core.raw_input import Invalid, open_bytes, too_big

# Structure only: a whole string (any characters, raw control ones included, escapes skipped),
# a bracket, a brace or a comma; a lone quote is a string that never closes.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]|"', re.DOTALL)
_CLOSES = {"[": "]", "{": "}"}
CHUNK = 1 << 20  # bytes read at a time


class _Window:
    """The decoded text from some point of the file on: `text` grows at its end by `more` and drops its start by `drop`."""

    def __init__(self, handle: IO[bytes], chunk: int | None = None) -> None:
        self.handle, self.chunk = handle, chunk or CHUNK  # read at call time: tests shrink it to cut records anywhere
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")  # bad bytes kept, as before
        self.text, self.eof, self.started = "", False, False
        self.column0 = 0  # characters of the window's first line that were dropped: columns are counted past them

    def more(self) -> bool:
        """Read the next chunk (False at the end of the file)."""
        if self.eof:
            return False
        data = self.handle.read(self.chunk)
        self.eof = not data
        if not self.started:
            while len(data) < 3 and (extra := self.handle.read(self.chunk)):  # the BOM check needs 3 bytes
                data += extra
            data, self.started = data.removeprefix(b"\xef\xbb\xbf"), True
        self.text += self.decoder.decode(data, final=self.eof)
        return True

    def grow(self) -> None:
        """At least double the text held (or reach the end): an element cut short is parsed again only
        log(size) times, not once per chunk."""
        target = 2 * len(self.text)
        while len(self.text) < target and self.more():
            pass

    def drop(self, count: int) -> None:
        newline = self.text.rfind("\n", 0, count)
        self.column0 = count - newline - 1 if newline >= 0 else self.column0 + count
        self.text = self.text[count:]

    def column(self, text: str, pos: int) -> int:
        """The 1-based column of window position `pos` in the file."""
        newline = text.rfind("\n", 0, pos)
        return pos - newline if newline >= 0 else pos + 1 + self.column0

    def rest(self) -> str:
        """The text to the end of the file (where an error reports all that could not be read)."""
        while self.more():
            pass
        return self.text


def json_array(path: Path, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    """One item per element of the array, then one Invalid for anything after it.

    Each element is parsed on its own. Where json cannot parse one (a raw control character
    in a string, a stray BOM, a missing colon), a structural scan finds where the element
    ends, so it alone is invalid. Only a broken structure (a string or bracket that never
    closes) ends the file, and the error says how much could not be read. Undecodable bytes
    are kept as surrogate escapes, so they invalidate only the record whose string holds them.
    """
    with open_bytes(path) as handle:
        yield from _elements(path, _Window(handle), limit)


def _elements(path: Path, window: _Window, limit: int) -> Iterator[tuple[int, Any, str] | Invalid]:
    while "[" not in window.text and window.more():
        pass
    pos = window.text.index("[") + 1
    while not window.eof and len(window.text) - pos < window.chunk:
        window.more()
        pos = _skip(window.text, pos)
    text = window.text
    pos, line, counted_to, index = _skip(text, pos), 1, 0, 0
    if pos < len(text) and text[pos] == "]":
        yield from _after_array(path, window.rest(), pos + 1, 1, 0)
        return
    while True:
        if pos > window.chunk:  # the records before are done with: the window starts at this one
            line += text.count("\n", counted_to, pos)
            window.drop(pos)
            text, counted_to, pos = window.text, 0, 0
        while not window.eof and len(text) - pos < window.chunk:
            window.more()
            text = window.text
            pos = _skip(text, pos)  # the whitespace before the element may have ended the window
        line += text.count("\n", counted_to, pos)
        counted_to, at = pos, f" (record [{index}] of the array)"
        problem, field, end = None, None, None
        try:
            record, end = json_values.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            # json counts lines and columns from the window's start
            err.lineno, err.colno = line + text.count("\n", pos, err.pos), window.column(text, err.pos)
            problem = _bom(text, pos) or json_values.syntax_message(err, line)
        except ValueProblem as value_problem:
            problem, field, end = str(value_problem), value_problem.field, value_problem.end
        after = len(text) if end is None else _skip(text, end)
        if not window.eof and _cut_short(text, pos, after, line, window):
            window.grow()  # the window ends inside this element: widen it and parse the element again
            text = window.text
            continue
        if problem is None and after == len(text):  # a whole last record, then no ']'
            yield from _record(path, line, text, pos, end, record, limit)
            yield Invalid(InputError(path, line + text.count("\n", pos), "invalid JSON: the array is not closed: the file "
                                                                       "ends without ']'"), "")
            return
        if after == len(text) or text[after] not in ",]":
            # json cannot say where this element ends: the structure can, so it costs only itself.
            if problem is None:
                problem = f"invalid JSON: unexpected text after the record at {_where(text, after, line, pos, window)}"
            after, broken = _element_end(text, pos, line, window)
            if broken:
                text = window.rest()
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
            yield from _after_array(path, window.rest(), after + 1, line, pos)
            return
        pos = _skip(text, after + 1)


def _record(path: Path, line: int, text: str, pos: int, end: int, record: Any, limit: int
            ) -> Iterator[tuple[int, Any, str] | Invalid]:
    yield too_big(path, line, end - pos, limit) if end - pos > limit else (line, record, text[pos:end])


def _cut_short(text: str, pos: int, after: int, line: int, window: _Window) -> bool:
    """Whether the window `text` ends inside the element at `pos` (parsed up to `after`), so that more of the
    file could change what it is."""
    if after < len(text) and text[after] in ",]":
        return False  # parsed to its terminator: whole
    end, broken = _element_end(text, pos, line, window)
    return end >= len(text) and (broken is None or "do not balance" not in broken)


def _element_end(text: str, pos: int, line: int, window: _Window) -> tuple[int, str | None]:
    """Where the element at `pos` ends (its ',' or the array's ']'), or why no one can tell."""
    open_marks: list[tuple[str, int]] = []
    for token in _STRUCTURE.finditer(text, pos):
        mark = token.group()
        if mark == '"':
            return len(text), f"a string at {_where(text, token.start(), line, pos, window)} never closes"
        if mark[0] == '"':
            continue
        if mark in "[{":
            open_marks.append((mark, token.start()))
        elif mark in "]}":
            if not open_marks and mark == "]":
                return token.start(), None
            if not open_marks or _CLOSES[open_marks[-1][0]] != mark:
                opened = f"the '{open_marks[-1][0]}' at {_where(text, open_marks[-1][1], line, pos, window)}" if open_marks else "nothing"
                return len(text), f"the brackets do not balance: '{mark}' at {_where(text, token.start(), line, pos, window)} closes {opened}"
            open_marks.pop()
        elif not open_marks:  # a ',' between elements
            return token.start(), None
    return len(text), "the file ends inside this record, before the array's closing ']'"


def _where(text: str, pos: int, line: int, start: int, window: _Window) -> str:
    """'column C' on the element's first line `line` (the element starts at `start`), else 'line L column C'."""
    at_line = line + text.count("\n", start, pos)
    column = window.column(text, pos)
    return f"column {column}" if at_line == line else f"line {at_line} column {column}"


def _bom(text: str, pos: int) -> str | None:
    if text.startswith("\ufeff", pos):
        return "invalid JSON: a byte order mark (U+FEFF) before the record; remove it"
    return None


def _after_array(path: Path, text: str, pos: int, line: int, start: int) -> Iterator[Invalid]:
    """Text after the closing bracket was once dropped without a word: it is an error. (`line`: the line `start` is on.)"""
    pos = _skip(text, pos)
    if pos < len(text):
        where = line + text.count("\n", start, pos)
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
