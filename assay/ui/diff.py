"""Side-by-side diffs of a rewrite against its parent, message by message, with changed words marked.

The result is plain data (rows of text segments); the template escapes every piece, so a
sample's text can never become markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

WORDS = re.compile(r"(\s+)")


@dataclass(frozen=True)
class Segment:
    """A run of text, marked when it differs from the other side."""

    text: str
    changed: bool = False


@dataclass(frozen=True)
class DiffRow:
    """One line on each side; a side is empty (None) where the other side inserted or deleted a line."""

    kind: str  # equal | replace | delete | insert
    left_no: int | None
    left: list[Segment] = field(default_factory=list)
    right_no: int | None = None
    right: list[Segment] = field(default_factory=list)


def _words(left: str, right: str) -> tuple[list[Segment], list[Segment]]:
    a, b = WORDS.split(left), WORDS.split(right)
    out_a: list[Segment] = []
    out_b: list[Segment] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if i2 > i1:
            out_a.append(Segment("".join(a[i1:i2]), tag != "equal"))
        if j2 > j1:
            out_b.append(Segment("".join(b[j1:j2]), tag != "equal"))
    return out_a, out_b


def side_by_side(left: str, right: str) -> list[DiffRow]:
    """Rows pairing the lines of `left` and `right`; replaced lines show which words changed."""
    a, b = left.splitlines() or [""], right.splitlines() or [""]
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [DiffRow("equal", i + 1, [Segment(a[i])], j + 1, [Segment(b[j])])
                     for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            i, j = i1 + k, j1 + k
            has_a, has_b = i < i2, j < j2
            if has_a and has_b:
                segs_a, segs_b = _words(a[i], b[j])
                rows.append(DiffRow("replace", i + 1, segs_a, j + 1, segs_b))
            elif has_a:
                rows.append(DiffRow("delete", i + 1, [Segment(a[i], True)], None, []))
            else:
                rows.append(DiffRow("insert", None, [], j + 1, [Segment(b[j], True)]))
    return rows


def message_diffs(parent: list[dict[str, Any]], child: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One side-by-side diff per message position: {role, changed, rows}."""
    diffs = []
    for n in range(max(len(parent), len(child))):
        old = parent[n] if n < len(parent) else {"role": child[n]["role"], "content": ""}
        new = child[n] if n < len(child) else {"role": old["role"], "content": ""}
        role = old["role"] if old["role"] == new["role"] else f"{old['role']} → {new['role']}"
        diffs.append({"role": role, "changed": old != new, "rows": side_by_side(old["content"], new["content"])})
    return diffs
