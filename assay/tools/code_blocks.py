"""Find the code in a response: fenced blocks (tagged or not) and unfenced programs, each with its language.

A fence's tag names the language (`py`, `python3` and `Python` are all python; `mysql` is sql
in the MySQL dialect). Untagged code, fenced or not, gets the language whose parser accepts
it (code_syntax.py). Code that no parser accepts gets a language only when it is that
language but for a local error: Python that parses once the line the parser blames is
replaced by a no-op, a statement opening with an upper-case SQL keyword, an object of
double-quoted keys (JSON), or a dict the instruction asks for as JSON. Otherwise it has none:
it is counted as code but not checked, so prose, pseudo-code and languages without a checker
(Java, C++, JavaScript) are never judged by a grammar they do not claim.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from assay.tools.code_lines import code_runs, may_hold_code
from assay.tools.code_syntax import CHECKERS, SyntaxProblem, check
from assay.tools.heuristics_fold import FoldedPattern

# Fence tag (lowercased) -> (language, sql dialect). Tags of languages without a checker keep
# their own name, so a block is still counted as code in that language.
TAGS: dict[str, tuple[str, str | None]] = {
    **{t: ("python", None) for t in ("python", "py", "python3", "py3", "ipython", "pycon", "python-repl")},
    **{t: ("json", None) for t in ("json", "jsonl", "ndjson")},
    **{t: ("yaml", None) for t in ("yaml", "yml")},
    **{t: ("sql", None) for t in ("sql", "ansi-sql", "sql92")},
    **{t: ("sql", t) for t in ("mysql", "postgres", "sqlite", "tsql", "oracle", "bigquery", "snowflake")},
    "postgresql": ("sql", "postgres"), "psql": ("sql", "postgres"), "plpgsql": ("sql", "postgres"),
    "toml": ("toml", None), "xml": ("xml", None),
    **{t: ("shell", None) for t in ("bash", "sh", "shell", "console-bash")},
}
FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`{]*)[^`\n]*$")

PYTHON_SIGNS = [re.compile(p, re.MULTILINE) for p in (
    r"^\s*def [A-Za-z_]\w*\s*\(.*\)\s*(->.*)?:\s*$", r"^\s*class [A-Z]\w*\s*(\(.*\))?\s*:\s*$",
    r"^\s*(import [a-z_][\w.]*|from [a-z_][\w.]* import \w)", r"^\s*(if|elif|while) .+:\s*$",
    r"^\s*for [\w, ()]+ in .+:\s*$", r"^\s*(else|try|finally)\s*:\s*$", r"\bprint\s*\(", r"\bself\.\w",
    r"\brange\(", r"^\s*return\b", r"\blen\(", r"^\s*except\b.*:\s*$")]
# Constructs of other languages: `;` line ends, `) {` block openers, C, Java, JS and SQL keywords, `//` comments.
OTHER_SIGNS = re.compile(
    r";\s*$|\)\s*{\s*$|^\s*(public|private|static|function|var|let|const|#include|using|package|func|fn|void|int|"
    r"echo|SELECT|INSERT|UPDATE|CREATE|DELETE|ALTER|DROP)\b|^\s*//|\bend\s*$|^\s*(BEGIN|END|FOR|IF|WHILE)\b|\belse\s*{",
    re.MULTILINE)
SQL_START = re.compile(
    r"^\s*((?-i:SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH)\s+\S|"  # upper case: a statement, not prose
    r"SELECT\b[\s\S]+\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
    r"CREATE\s+(TABLE|INDEX|VIEW|DATABASE|UNIQUE\s+INDEX)\b|ALTER\s+TABLE\b|DROP\s+(TABLE|INDEX|VIEW)\b|"
    r"WITH\s+\w+\s+AS\s*\()", re.IGNORECASE)
NAMED = {
    "python": FoldedPattern(r"\bpython\b"),
    "sql": FoldedPattern(r"\b(?:sql|mysql|postgres(?:ql)?|sqlite)\b|\bquery\b.*\b(?:database|table)\b"),
    "json": FoldedPattern(r"\bjson\b"),
    "yaml": FoldedPattern(r"\bya?ml\b"),
}
JSON_KEY = re.compile(r'^\s*[{\[]?\s*"[^"\n]+"\s*:', re.MULTILINE)


@dataclass(frozen=True)
class CodeBlock:
    """One piece of code in a text: the code, its language (None: unknown), where it starts, how it was found."""

    code: str
    language: str | None
    line: int  # the block's first code line, 1-based, in the text
    fenced: bool
    tagged: bool  # the language came from a fence tag
    dialect: str | None = None  # sql only: the tag's dialect

    @property
    def checkable(self) -> bool:
        """Whether a syntax checker exists for the block's language."""
        return self.language in CHECKERS


@lru_cache(maxsize=256)
def parse_problem(language: str, code: str, dialect: str | None = None) -> SyntaxProblem | None:
    """`check`, remembered for recent blocks: guessing a block's language parses it, and the screen parses it again.

    A failing SQL block is parsed once per dialect, so a second full check is the costliest repeat.
    """
    return check(language, code, dialect)


def find_code(text: str, hints: frozenset[str] = frozenset()) -> list[CodeBlock]:
    """Every code block in `text`, in order; `hints`: the languages the instruction names (`named_languages`)."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    outside: list[tuple[int, str]] = []  # (0-based line number, line) outside any fence
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if opened is None:
            outside.append((index, lines[index]))
            index += 1
            continue
        marker, tag = opened.group(1), opened.group(2).lower()
        end = next((j for j in range(index + 1, len(lines))
                    if lines[j].strip().startswith(marker[0] * len(marker)) and not lines[j].strip().strip(marker[0])),
                   len(lines))
        code = "\n".join(lines[index + 1:end])
        if code.strip():
            blocks.append(_fenced(code, tag, index + 2, hints))
        index = end + 1
    for start, code in code_runs(outside) if may_hold_code(text) else ():
        blocks.append(CodeBlock(code, guess_language(code, hints), start + 1, fenced=False, tagged=False))
    return sorted(blocks, key=lambda b: b.line)


def _fenced(code: str, tag: str, line: int, hints: frozenset[str]) -> CodeBlock:
    if tag in TAGS:
        language, dialect = TAGS[tag]
        return CodeBlock(code, language, line, fenced=True, tagged=True, dialect=dialect)
    if tag and tag not in ("text", "txt", "plain", "plaintext", "output", "console", "none"):
        return CodeBlock(code, tag, line, fenced=True, tagged=True)  # a language assay has no checker for
    language = guess_language(code, hints) if not tag else None
    return CodeBlock(code, language, line, fenced=True, tagged=False)


def guess_language(code: str, hints: frozenset[str] = frozenset()) -> str | None:
    """The language of untagged code: one whose parser accepts it, else one its constructs leave no doubt about.

    `hints` are the languages the instruction names ("a JSON object", "a Python function"):
    they settle a case the code alone leaves open, a dict in single quotes asked for as JSON.
    """
    stripped = code.strip()
    if not stripped:
        return None
    looks_json = stripped[0] in "{[" and stripped[-1] in "}]"
    if looks_json and parse_problem("json", stripped) is None:
        return "json"
    python = python_signs(code)
    if python and parse_problem("python", code) is None:
        return "python"
    sql = bool(SQL_START.match(code)) and python == 0 and not re.search(r":\s*$", code, re.MULTILINE)
    if sql and parse_problem("sql", code) is None:
        return "sql"
    # Nothing parses: name the language only when the code is that language but for a local
    # error, so the problem reported is that language's and never a grammar forced on prose.
    if looks_json and JSON_KEY.search(code) and not re.search(r"^\s*\w+\s*=", code, re.MULTILINE):
        if not _python_literal(stripped) or "json" in hints:  # a Python dict printed is not broken JSON
            return "json"
    if python and (_python_but_for_one_line(code) or (python >= 2 and not OTHER_SIGNS.search(code))):
        return "python"
    if sql and "{" not in code:
        return "sql"
    return None


def _python_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _python_but_for_one_line(code: str) -> bool:
    """Whether the code parses as Python once the line the parser blames is replaced by a no-op.

    A lost colon, bracket or quote, a typo or a stray indent breaks one line; pseudo-code and
    other languages break everywhere, so replacing one line does not make them Python.
    """
    problem = check("python", code)
    if problem is None or problem.line is None:
        return problem is None
    lines = code.split("\n")
    for at in (problem.line - 1, problem.line - 2):
        if not 0 <= at < len(lines) or not lines[at].strip():
            continue
        following = next((line for line in lines[at + 1:] if line.strip()), "")
        opens = _indent(following) > _indent(lines[at])  # the blamed line opened a block: keep one open
        for indent in {_indent(lines[at]), _indent(next((p for p in reversed(lines[:at]) if p.strip()), ""))}:
            trial = [*lines[:at], " " * indent + ("if True:" if opens else "pass"), *lines[at + 1:]]
            if check("python", "\n".join(trial)) is None:
                return True
    return False


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def python_signs(code: str) -> int:
    """How many kinds of Python construct the code shows (def, import, a block opener, print( ...)."""
    return sum(1 for sign in PYTHON_SIGNS if sign.search(code))


def named_languages(instruction: str) -> frozenset[str]:
    """The checked languages an instruction names: "in Python", "a SQL query", "JSON format"."""
    return frozenset(language for language, pattern in NAMED.items() if pattern.found(instruction))
