"""The sample page's code panel: every block of code in the answers, its language, and what its parser says.

The screen keeps only the reason of a drop (`code_syntax:python`) in the session; the line and
the parser's message are found again here, by the same tools, so the page shows where the code
breaks. Parsing is fast and deterministic, so the panel says what the screen saw. Code is
never run here: a `code_runtime` drop is explained by its reason alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assay.tools.code_blocks import find_code, named_languages
from assay.tools.code_syntax import check


def code_panel(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per code block in the assistant turns: turn, line, language, how it was found, and the parse result."""
    instruction = next((str(m.get("content", "")) for m in messages if m.get("role") == "user"), "")
    hints = named_languages(instruction)
    replies = [str(m.get("content", "")) for m in messages if m.get("role") == "assistant"]
    rows = []
    for turn, reply in enumerate(replies, 1):
        for block in find_code(reply, hints):
            how = "fenced, tagged" if block.tagged else "fenced" if block.fenced else "unfenced"
            row = {"turn": turn, "line": block.line, "lines": block.code.count("\n") + 1,
                   "language": block.language or "unknown", "how": how, "checked": block.checkable, "problem": None}
            if block.checkable:
                problem = check(block.language or "", block.code, block.dialect)
                row["problem"] = problem.describe(block.line - 1) if problem is not None else None
            rows.append(row)
    return rows
