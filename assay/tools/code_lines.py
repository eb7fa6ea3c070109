"""Unfenced code: runs of lines that read as code rather than prose.

Alpaca-style data rarely fences its code: a response is a program, or a sentence then a
program then its output. A line counts as code when it opens or closes a block, assigns,
calls, imports, or is a JSON member or a SQL clause; blank lines, comments and indented
lines continue a run, and a prose line ends it. A run needs two code lines, or one complete
SQL statement or JSON object, so a sentence that happens to hold "x = 5" is not a program.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CODE_START = re.compile(
    r"^\s*(?:def\s+\w+\s*\(|class\s+\w+\s*[(:]|import\s+[\w.]+|from\s+[\w.]+\s+import\b|return\b|"
    r"elif\b.*:\s*$|else\s*:|try\s*:|finally\s*:|except\b.*:\s*$|with\s.+:\s*$|for\s.+\sin\s.+:\s*$|"
    r"while\s.+:\s*$|if\s.+:\s*$|for\s+[A-Za-z_][\w, ()]*\s+in\s+[\w.()\[\]]+\s*$|print\s*\(|raise\s+\w|assert\s|yield\b|async\s+def\b|@\w+|"
    r"(?:SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW|DATABASE)|ALTER\s+TABLE|"
    r"DROP\s+TABLE|FROM|WHERE|GROUP\s+BY|ORDER\s+BY|HAVING|(?:LEFT\s+|RIGHT\s+|INNER\s+|OUTER\s+)?JOIN|"
    r"LIMIT|VALUES|SET|AND|OR|ON|UNION)\b|"
    r"(?:public|private|protected|static|#include|using\s+namespace|package|function|var|let|const|"
    r"console\.log|System\.out)\b)"
)
ASSIGNMENT = re.compile(r"^\s*[A-Za-z_][\w.\[\]'\", ]*\s*(?:[-+*/%|&^]|//|\*\*)?=(?!=)\s*\S")
CALL = re.compile(r"^\s*[A-Za-z_][\w.]*\(\S")  # print(x), np.array([1, 2]: a call, closed or not
SYMBOLIC = re.compile(r"[{};]\s*$|^\s*[}\])]|^\s*[{\[]?\s*\"[^\"\n]*\"\s*:|^\s*[{\[]\s*$")
CONTINUES = re.compile(r"[:(\[{,\\]\s*$")  # the next line belongs to this statement or block
NEUTRAL = re.compile(r"^\s*(?:#|//|--|/\*|\*|$)")  # comments and blank lines: inside a run, never a start
TRIPLE_QUOTE = re.compile(r'"""|\'\'\'')
# A line that may start a run, searched over all lines at once (MULTILINE): the line-start
# alternatives of CODE_START, ASSIGNMENT, CALL and SYMBOLIC; SYMBOLIC's line-end one is a "{", "}"
# or ";" anywhere. Exact where "\n" is the only line break (see `may_hold_code`).
ANY_CODE_LINE = re.compile(
    r"^(?:" + "|".join(f"(?:{p.pattern[1:]})" for p in (CODE_START, ASSIGNMENT, CALL))
    + r"|\s*[}\])]|\s*[{\[]?\s*\"[^\"\n]*\"\s*:|\s*[{\[]\s*$)",
    re.MULTILINE,
)
OTHER_BREAK = re.compile(r"[\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # where splitlines() also breaks
PROSE = re.compile(r"^\s*(?:[A-Z][a-z]+\s+){3,}[a-z]")  # "The following code prints ...": a sentence
ONE_LINE_SQL = re.compile(
    r"^\s*(?:(?i:SELECT\s.+\sFROM\s.+|INSERT\s+INTO\s.+|UPDATE\s+\w+\s+SET\s.+|DELETE\s+FROM\s.+)|"
    r"(?:SELECT|INSERT|UPDATE|DELETE)\s.+;)$")
ONE_LINE_JSON = re.compile(r'^\s*\{\s*"[^"]+"\s*:.*\}\s*$')


def code_runs(lines: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """(first line number, code) of each run of code lines among numbered lines; a gap in the numbers ends a run."""
    runs: list[tuple[int, str]] = []
    current: list[tuple[int, str]] = []
    strong = 0
    in_string = False
    previous_number = None
    for number, line in lines:
        if previous_number is not None and number != previous_number + 1:
            runs.extend(_closed(current, strong))
            current, strong, in_string = [], 0, False
        previous_number = number
        kind = "code" if in_string else _kind(line, current)
        if TRIPLE_QUOTE.findall(line) and len(TRIPLE_QUOTE.findall(line)) % 2 == 1:
            in_string = not in_string
            kind = "code"
        if kind == "prose":
            runs.extend(_closed(current, strong))
            current, strong = [], 0
        elif kind == "code" or current:
            current.append((number, line))
            strong += kind == "code"
    runs.extend(_closed(current, strong))
    return runs


def may_hold_code(text: str) -> bool:
    """False only when `code_runs` finds nothing in any of `text`'s lines, decided without splitting it.

    A run starts on a line `_kind` calls code or on a triple quote; with "\n" the only line
    break, a MULTILINE search finds every such line (most answers are prose: half the work).
    """
    if '"""' in text or "'''" in text or "{" in text or "}" in text or ";" in text or OTHER_BREAK.search(text):
        return True
    return ANY_CODE_LINE.search(text) is not None


def _kind(line: str, current: list[tuple[int, str]]) -> str:
    if NEUTRAL.match(line):
        return "neutral"
    last = next((text for _, text in reversed(current) if text.strip()), None)
    if last is not None and (line[:1] in " \t" or CONTINUES.search(last)):
        return "code"  # indented under, or continuing, the code above
    if PROSE.match(line) and not line.rstrip().endswith((":", ";", "{", ")")):
        return "prose"
    if CODE_START.match(line) or ASSIGNMENT.match(line) or CALL.match(line) or SYMBOLIC.search(line):
        return "code"
    return "prose"


def _closed(run: list[tuple[int, str]], strong: int) -> list[tuple[int, str]]:
    while run and NEUTRAL.match(run[-1][1]):
        run = run[:-1]  # trailing blank lines and comments belong to what follows
    if not run:
        return []
    code = "\n".join(text for _, text in run)
    if strong >= 2 or ONE_LINE_SQL.match(code.strip()) or ONE_LINE_JSON.match(code.strip()):
        return [(run[0][0], code)]
    return []
