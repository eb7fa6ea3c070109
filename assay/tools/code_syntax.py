"""Syntax checks of code with real parsers: one checker per language, none by regex.

`check(language, code)` returns None when the code parses, else a `SyntaxProblem` with the
line (within the code) and the parser's own message. The parsers:

    python  the standard library's `ast` (the interpreter's own grammar)
    json    the standard library's `json`
    yaml    PyYAML (`safe_load_all`, the C loader where built)
    sql     sqlglot, in its generic dialect and then MySQL, PostgreSQL, T-SQL, SQLite and more:
            the code passes if any accepts it (a fence tag such as `mysql` picks one)
    toml    the standard library's `tomllib`
    xml     the standard library's expat (`xml.etree.ElementTree`)
    shell   `bash -n` (parses, never executes), when bash is installed

Heavy parsers (sqlglot, PyYAML) are imported on first use.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass

SQL_DIALECTS = ("", "mysql", "postgres", "tsql", "sqlite", "oracle", "bigquery", "snowflake")
SHELL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SyntaxProblem:
    """Why a piece of code does not parse: the language, the line within the code, the parser's message."""

    language: str
    line: int | None
    message: str

    def describe(self, offset: int = 0) -> str:
        """'line N: message', with the line counted from `offset` (the block's first line in the response)."""
        where = f"line {self.line + offset}: " if self.line is not None else ""
        return f"{where}{self.message}"


def check_python(code: str) -> SyntaxProblem | None:
    """Parse with the interpreter's grammar (ast); compile-time-only errors (a top-level return) are not syntax."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence" is a warning, not an error
            ast.parse(python_source(code))
    except SyntaxError as error:  # IndentationError and TabError are SyntaxErrors
        return SyntaxProblem("python", error.lineno, f"{type(error).__name__}: {error.msg}")
    except (ValueError, MemoryError, RecursionError) as error:  # null bytes; absurd nesting
        return SyntaxProblem("python", None, f"{type(error).__name__}: {error}")
    return None


def python_source(code: str) -> str:
    """The Python in `code`: a REPL transcript's `>>>`/`...` lines without the prompts, notebook
    magics (`%time`, `!pip`) blanked. Line numbers are kept, so a problem's line stays true."""
    lines = code.splitlines()
    if any(line.startswith(">>>") for line in lines):
        # Only prompted lines are code; the rest of a transcript is the output it printed.
        return "\n".join(line[4:] if line[:4] in (">>> ", "... ") else "" for line in lines)
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def check_json(code: str) -> SyntaxProblem | None:
    """Parse as one JSON document, or as JSON Lines (one document a line) when its first line is a whole document."""
    try:
        json.loads(code)
    except json.JSONDecodeError as error:
        numbered = [(n, line) for n, line in enumerate(code.splitlines(), 1) if line.strip()]
        if len(numbered) > 1 and _json_ok(numbered[0][1]):  # JSON Lines: blame the first line that fails
            broken = next(((n, line) for n, line in numbered if not _json_ok(line)), None)
            if broken is None:
                return None
            return _json_problem(broken[1], broken[0])
        return SyntaxProblem("json", error.lineno, error.msg + f" (column {error.colno})")
    except RecursionError:
        return SyntaxProblem("json", None, "nested too deeply")
    return None


def _json_problem(line: str, number: int) -> SyntaxProblem:
    try:
        json.loads(line)
    except json.JSONDecodeError as error:
        return SyntaxProblem("json", number, error.msg + f" (column {error.colno})")
    except RecursionError:
        pass
    return SyntaxProblem("json", number, "nested too deeply")


def _json_ok(line: str) -> bool:
    try:
        json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def check_yaml(code: str) -> SyntaxProblem | None:
    """Parse every document with PyYAML's safe loader."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for _ in yaml.load_all(code, Loader=loader):
            pass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(str(part) for part in (error.context, error.problem) if part)
        return SyntaxProblem("yaml", mark.line + 1 if mark else None, message or str(error))
    except yaml.YAMLError as error:
        return SyntaxProblem("yaml", None, str(error).splitlines()[0])
    return None


def check_sql(code: str, dialect: str | None = None) -> SyntaxProblem | None:
    """Parse with sqlglot: the tag's dialect if given, else any of SQL_DIALECTS; the generic dialect's error is reported.

    Other dialects are tried on the failing statement first, and on the whole code only
    when one accepts it, so a long script costs two full parses, not one per dialect.
    """
    if dialect:
        return _sql_problem(code, dialect)
    first = _sql_problem(code, "")
    if first is None:
        return None
    statement = _statement_at(code, first.line)
    for name in SQL_DIALECTS[1:]:
        if _sql_problem(statement, name) is None and (statement == code or _sql_problem(code, name) is None):
            return None
    return first


def _statement_at(code: str, line: int | None) -> str:
    """The lines of the statement holding `line`: from after the last line ending in `;` before it to the next such line."""
    lines = code.split("\n")
    if line is None or not 1 <= line <= len(lines):
        return code
    start = max((i + 1 for i in range(line - 1) if lines[i].rstrip().endswith(";")), default=0)
    end = next((i + 1 for i in range(line - 1, len(lines)) if lines[i].rstrip().endswith(";")), len(lines))
    return "\n".join(lines[start:end])


def _sql_problem(code: str, dialect: str) -> SyntaxProblem | None:
    import sqlglot
    from sqlglot.errors import ErrorLevel, ParseError, TokenError

    try:
        sqlglot.parse(code, read=dialect or None, error_level=ErrorLevel.RAISE)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        message = str(detail.get("description") or error).splitlines()[0]
        message = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", message)  # <class 'sqlglot...Dot'> -> Dot
        message = re.sub(r"<Token token_type: [\w.]+, text: (.*?), line: .*?>", r"'\1'", message)
        return SyntaxProblem("sql", detail.get("line"), message)
    except TokenError as error:
        one_line = 1 if "\n" not in code.strip() else None  # the tokenizer names no line
        return SyntaxProblem("sql", _line_in(str(error)) or one_line, str(error).splitlines()[0][:200])
    except (RecursionError, ValueError, KeyError, AttributeError, TypeError) as error:
        # sqlglot raises plain errors on some malformed input rather than ParseError; the
        # input still failed to parse, and the message says where the parser gave up.
        return SyntaxProblem("sql", None, f"{type(error).__name__}: {str(error)[:160]}")
    return None


def check_toml(code: str) -> SyntaxProblem | None:
    """Parse with the standard library's tomllib."""
    import tomllib

    try:
        tomllib.loads(code)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        return SyntaxProblem("toml", _line_in(message), re.sub(r"\s*\(at line \d+, column \d+\)", "", message))
    return None


def check_xml(code: str) -> SyntaxProblem | None:
    """Parse as one well-formed XML document (expat)."""
    from xml.etree import ElementTree

    try:
        ElementTree.fromstring(code)
    except ElementTree.ParseError as error:
        return SyntaxProblem("xml", error.position[0], str(error).split(":")[0])
    return None


def check_shell(code: str) -> SyntaxProblem | None:
    """`bash -n`: bash reads the script without running it; None also when bash is not installed."""
    bash = _bash()
    if bash is None:
        return None
    done = subprocess.run([bash, "-n"], input=code, capture_output=True, text=True, timeout=SHELL_TIMEOUT_S,
                          check=False, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    if done.returncode == 0:
        return None
    first = next((line for line in done.stderr.splitlines() if line.strip()), "syntax error")
    message = re.sub(r"^\S*bash: (?:line \d+: )?", "", first)
    return SyntaxProblem("shell", _line_in(first), message)


@functools.cache
def _bash() -> str | None:
    return shutil.which("bash")


def _line_in(message: str) -> int | None:
    found = re.search(r"\bline (\d+)", message, re.IGNORECASE)
    return int(found.group(1)) if found else None


CHECKERS: dict[str, Callable[[str], SyntaxProblem | None]] = {
    "python": check_python,
    "json": check_json,
    "yaml": check_yaml,
    "sql": check_sql,
    "toml": check_toml,
    "xml": check_xml,
    "shell": check_shell,
}


def check(language: str, code: str, dialect: str | None = None) -> SyntaxProblem | None:
    """The syntax problem of `code` in `language` (a key of CHECKERS), or None when it parses."""
    if language == "sql":
        return check_sql(code, dialect)
    return CHECKERS[language](code)
