"""Planted syntax errors for evals/eval_code_checks.py: several kinds per language, each a
small edit a person or a model really makes (a lost colon, bracket, quote or comma, a typo).

Each mutation takes a block's code and a random generator and returns (new code, the edited
line, 1-based) or None when the code offers no place for that kind of error.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

Mutation = Callable[[str, random.Random], tuple[str, int] | None]
OPENER = re.compile(r"^\s*(def|class|if|elif|else|for|while|try|except|finally|with)\b.*:\s*$")
TYPOS = {"def ": "dfe ", "return ": "retrun ", "import ": "imoprt ", "for ": "fro ", "while ": "whiel ",
         "SELECT ": "SELEC ", " FROM ": " FORM ", "WHERE ": "WHER ", "INSERT INTO": "INSRT INTO"}
AT_LINE_START = {"def ", "return ", "import ", "for ", "while "}


def _lines(code: str) -> list[str]:
    return code.split("\n")


def _edit(code: str, index: int, line: str) -> tuple[str, int]:
    lines = _lines(code)
    lines[index] = line
    return "\n".join(lines), index + 1


def _pick(rng: random.Random, choices: list[int]) -> int | None:
    return rng.choice(choices) if choices else None


def drop_colon(code: str, rng: random.Random) -> tuple[str, int] | None:
    """`if x > 0:` -> `if x > 0`."""
    lines = _lines(code)
    at = _pick(rng, [i for i, line in enumerate(lines) if OPENER.match(line)])
    return None if at is None else _edit(code, at, lines[at].rstrip()[:-1])


def drop_bracket(code: str, rng: random.Random) -> tuple[str, int] | None:
    """Remove the last closing bracket of a line (`print(x)` -> `print(x`)."""
    lines = _lines(code)
    at = _pick(rng, [i for i, line in enumerate(lines) if re.search(r"[)\]]\s*[;:]?\s*$", line)
                     and not line.lstrip().startswith(("#", "--"))])
    if at is None:
        return None
    line = lines[at]
    cut = max(line.rfind(")"), line.rfind("]"))
    return _edit(code, at, line[:cut] + line[cut + 1:])


def bad_indent(code: str, rng: random.Random) -> tuple[str, int] | None:
    """Indent a top-level statement that follows a complete one: `unexpected indent`."""
    lines = _lines(code)
    depth, choices = 0, []
    for i, line in enumerate(lines):
        previous = next((p for p in reversed(lines[:i]) if p.strip()), "")
        if (i and line.strip() and not line[0].isspace() and depth == 0 and previous and not previous[0].isspace()
                and not previous.rstrip().endswith((":", "\\", ",")) and not line.lstrip().startswith(("#", ")", "]"))):
            choices.append(i)
        depth += line.count("(") + line.count("[") + line.count("{") - line.count(")") - line.count("]") - line.count("}")
    at = _pick(rng, choices)
    return None if at is None else _edit(code, at, "   " + lines[at])


def unclosed_string(code: str, rng: random.Random) -> tuple[str, int] | None:
    """Remove the closing quote of a one-line string literal."""
    lines = _lines(code)
    found = [(i, m) for i, line in enumerate(lines) if not line.lstrip().startswith("#")
             for m in [re.search(r"(['\"])[^'\"\n]{1,60}(\1)", line)] if m and '"""' not in line]
    if not found:
        return None
    at, match = found[rng.randrange(len(found))]
    line = lines[at]
    return _edit(code, at, line[:match.start(2)] + line[match.end(2):])


def keyword_typo(code: str, rng: random.Random) -> tuple[str, int] | None:
    """A typo in a keyword: `return x` -> `retrun x`, `SELECT` -> `SELEC`."""
    lines = _lines(code)
    found = [(i, word) for i, line in enumerate(lines) if not line.lstrip().startswith(("#", "--"))
             for word in TYPOS if (line.lstrip().startswith(word) if word in AT_LINE_START else word in line)]
    if not found:
        return None
    at, word = found[rng.randrange(len(found))]
    return _edit(code, at, lines[at].replace(word, TYPOS[word], 1))


def drop_comma(code: str, rng: random.Random) -> tuple[str, int] | None:
    """JSON: remove the comma after a member or element (`"a": 1,` -> `"a": 1`)."""
    lines = _lines(code)
    at = _pick(rng, [i for i, line in enumerate(lines[:-1]) if line.rstrip().endswith(",")])
    if at is not None:
        return _edit(code, at, lines[at].rstrip()[:-1])
    inline = [(i, m.start()) for i, line in enumerate(lines) for m in re.finditer(r",\s*\"", line)]
    if not inline:
        return None
    at, pos = inline[rng.randrange(len(inline))]
    return _edit(code, at, lines[at][:pos] + lines[at][pos + 1:])


def trailing_comma(code: str, rng: random.Random) -> tuple[str, int] | None:
    """JSON: a comma after the last member (`"b": 2}` -> `"b": 2,}`, or at the end of the line before `}`)."""
    lines = _lines(code)
    found = [(i, m.start() + 1) for i, line in enumerate(lines) for m in re.finditer(r"[\"\d\]}el]\s*[}\]]", line)]
    found += [(i, len(lines[i].rstrip())) for i in range(len(lines) - 1)
              if re.match(r"\s*[}\]]", lines[i + 1]) and re.search(r"[\"\d\]}el]\s*$", lines[i])]
    if not found:
        return None
    at, pos = found[rng.randrange(len(found))]
    return _edit(code, at, lines[at][:pos] + "," + lines[at][pos:])


def single_quotes(code: str, rng: random.Random) -> tuple[str, int] | None:
    """JSON: a key in single quotes (`"name":` -> `'name':`)."""
    lines = _lines(code)
    found = [(i, m) for i, line in enumerate(lines) for m in re.finditer(r"\"([^\"\n]+)\"\s*:", line)]
    if not found:
        return None
    at, match = found[rng.randrange(len(found))]
    line = lines[at]
    return _edit(code, at, line[:match.start()] + f"'{match.group(1)}'" + line[match.start() + len(match.group(1)) + 2:])


def doubled_operator(code: str, rng: random.Random) -> tuple[str, int] | None:
    """SQL: a comparison written twice (`age = 30` -> `age = = 30`)."""
    lines = _lines(code)
    found = [(i, m.start()) for i, line in enumerate(lines) for m in re.finditer(r" (=|>|<) ", line)]
    if not found:
        return None
    at, pos = found[rng.randrange(len(found))]
    line = lines[at]
    return _edit(code, at, line[:pos + 2] + " " + line[pos + 1] + line[pos + 2:])


def drop_table(code: str, rng: random.Random) -> tuple[str, int] | None:
    """SQL: the table after FROM or INTO left out (`FROM users WHERE` -> `FROM WHERE`)."""
    lines = _lines(code)
    found = [(i, m) for i, line in enumerate(lines) for m in re.finditer(r"\b(FROM|INTO|from|into) +[`\w.]+`?", line)]
    if not found:
        return None
    at, match = found[rng.randrange(len(found))]
    line = lines[at]
    return _edit(code, at, line[:match.start()] + match.group(1) + line[match.end():])


MUTATIONS: dict[str, dict[str, Mutation]] = {
    "python": {"drop_colon": drop_colon, "drop_bracket": drop_bracket, "bad_indent": bad_indent,
               "unclosed_string": unclosed_string, "keyword_typo": keyword_typo},
    "sql": {"keyword_typo": keyword_typo, "drop_bracket": drop_bracket, "unclosed_string": unclosed_string,
            "doubled_operator": doubled_operator, "drop_table": drop_table},
    "json": {"drop_comma": drop_comma, "trailing_comma": trailing_comma, "single_quotes": single_quotes,
             "drop_bracket": drop_bracket},
}
