"""Parse a record's JSON into values every later step can hold, or say which field cannot be.

Python's json module accepts text that later breaks the pipeline: NaN and Infinity (not
JSON, and written back as invalid JSON), integers over Python's 4,300-digit conversion
limit (a ValueError), lone surrogates such as `\\ud800` (which no UTF-8 encoder accepts, so
the content hash and SQLite fail), and nesting deep enough for a RecursionError. Here each
becomes a `ValueProblem` naming the field, so the reader turns it into a located error and
`--skip-invalid` keeps every other record. Parquet rows are brought to the same JSON values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from typing import Any

MAX_DEPTH = 100  # deeper than any conversation record; far below the parser's recursion limit
MAX_INT_DIGITS = 4300  # Python's own limit for int <-> str conversion
_SURROGATE = re.compile("[\ud800-\udfff]")
# Text that may hold a surrogate: a \uD800-\uDFFF escape, or an undecodable byte of the file.
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")
# Strings, brackets and colons: enough to find a record's end and its keys without parsing it.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:]', re.DOTALL)


class ValueProblem(ValueError):
    """A value that cannot be kept; `field` is its path in the record (None: the record itself)."""

    def __init__(self, field: str | None, message: str, end: int | None = None) -> None:
        self.field = field
        self.end = end  # where the refused value's text ends, so a reader can go on after it
        super().__init__(message)


_refused_made = [0]  # counts _Refused values made, so a clean parse skips the walk


class _Refused:
    """Stands in for a parsed value that must not be kept, until the check names its field."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        _refused_made[0] += 1
        self.why = why


def _parse_int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Refused(f"an integer of {digits} digits is over the {MAX_INT_DIGITS}-digit limit; write it as a string")
    return int(text)


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"{text[:30]} is not a finite number; write null or a string")


def _parse_constant(name: str) -> _Refused:
    return _Refused(f"{name} is not valid JSON; write null or a string")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def raw_decode(text: str, pos: int = 0) -> tuple[Any, int]:
    """Parse one JSON value starting at `pos` and check it; returns (value, end).

    Raises json.JSONDecodeError for a syntax error and ValueProblem for a value that
    cannot be kept (with `end` set when the parser gave up on deep nesting).
    """
    made = _refused_made[0]
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except RecursionError:
        end, key = _scan(text, pos)
        raise ValueProblem(key, f"nested more than {MAX_DEPTH} levels deep", end) from None
    # The walk costs as much as the parse: it runs only when the text could hold a problem.
    if (_refused_made[0] != made or text.count("[", pos, end) + text.count("{", pos, end) > MAX_DEPTH
            or _MAYBE_SURROGATE.search(text, pos, end)):
        try:
            check(value)
        except ValueProblem as problem:
            problem.end = end
            raise
    return value, end


def loads(text: str) -> Any:
    """Parse a whole JSON text (one record) and check it; raises as `raw_decode` does."""
    value, end = raw_decode(text, len(text) - len(text.lstrip(" \t\r\n")))
    rest = text[end:].strip(" \t\r\n")
    if rest:
        raise json.JSONDecodeError("Extra data", text, text.index(rest[0], end))
    return value


def syntax_message(err: json.JSONDecodeError, line: int | None = None) -> str:
    """json's complaint as one phrase, located by column (and line, when not `line`).

    json ends some messages with "at" because it appends ": line L column C" itself; the
    dangling word goes here, so the location reads once.
    """
    reason = err.msg.removesuffix(" at")
    if reason.startswith("Invalid control character") and err.pos < len(err.doc):
        code = ord(err.doc[err.pos])  # json's C scanner does not say which one
        reason = f"raw control character U+{code:04X} inside a string (write it as \\u{code:04x})"
    where = f"column {err.colno}" if line in (None, err.lineno) else f"line {err.lineno} column {err.colno}"
    return f"invalid JSON: {reason} at {where}"


def check(record: Any) -> None:
    """Raise ValueProblem for the first value that cannot be kept (walked without recursion)."""
    stack: list[tuple[Any, str | None, int]] = [(record, None, 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _Refused):
            raise ValueProblem(path, value.why)
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise ValueProblem(_top(path), f"nested more than {MAX_DEPTH} levels deep")
            if isinstance(value, dict):
                for key in value:
                    _check_text(key, _join(path, _printable(key)))
                items = [(v, _join(path, _printable(k))) for k, v in value.items()]
            else:
                items = [(v, f"{path or ''}[{i}]") for i, v in enumerate(value)]
            stack.extend((v, p, depth + 1) for v, p in reversed(items))


def to_json_value(value: Any, path: str | None = None) -> Any:
    """A Parquet cell as a JSON value: dates and times as ISO 8601 text, decimals as text.

    Binary cells must hold UTF-8 text; those and any other unknown value are refused with
    their field named.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(path, f"{value} is not a finite number; write null instead")
        return value
    if isinstance(value, dict):
        return {k: to_json_value(v, _join(path, str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v, f"{path or ''}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueProblem(path, f"binary value is not UTF-8 text (byte 0x{value[err.start]:02x})") from None
    raise ValueProblem(path, f"unsupported Parquet value of type {type(value).__name__}")


def printable_raw(text: str) -> str:
    """Raw record text safe to write as UTF-8: undecodable bytes and surrogates as escapes."""
    try:
        data = text.encode("utf-8", "surrogateescape")  # undecodable bytes of the file come back as they were
    except UnicodeEncodeError:
        data = text.encode("utf-8", "backslashreplace")
    return data.decode("utf-8", "backslashreplace")


def _check_text(text: str, path: str | None) -> None:
    found = _SURROGATE.search(text)
    if found is None:
        return
    char = ord(found.group())
    if 0xDC80 <= char <= 0xDCFF:  # how an undecodable byte of the file reads (surrogateescape)
        raise ValueProblem(path, f"not valid UTF-8 (byte 0x{char - 0xDC00:02x}) or a lone surrogate; save the file as UTF-8")
    raise ValueProblem(path, f"holds a lone surrogate \\u{char:04x}, which is not valid Unicode")


def _printable(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(key) else key


def _join(path: str | None, key: str) -> str:
    return key if path is None else f"{path}.{key}"


def _top(path: str | None) -> str | None:
    """The record's top-level field a nested path is under."""
    return None if path is None else re.split(r"[.\[]", path, maxsplit=1)[0] or path


def _scan(text: str, pos: int) -> tuple[int, str | None]:
    """End of the JSON value at `pos` and the top-level key under which it nests too deeply."""
    depth, key, deep_key, last = 0, None, None, None
    for token in _TOKEN.finditer(text, pos):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > MAX_DEPTH and deep_key is None:
                deep_key = key
        elif mark in "]}":
            depth -= 1
            if depth == 0:
                return token.end(), deep_key
        elif mark == ":" and depth == 1 and last is not None and last.startswith('"'):
            try:
                key = _printable(json.loads(last))
            except ValueError:
                key = _printable(last[1:-1])
        last = mark
    return len(text), deep_key
