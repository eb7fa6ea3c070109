"""Showing text that came from a model or from the data, on a terminal or a page, as text.

Such text may hold anything: Rich markup (`[/INST]`, `[bold]`), HTML, ANSI escape sequences
(`\\x1b[31m`, `\\x1b]0;title\\x07`), other control characters, or bidi overrides that make a
line read differently from what it holds. Every display path shows it inert:

- `visible` writes each control character as a visible escape (`\\x1b`), so nothing reaches the
  terminal as a command and a reviewer sees that the text holds one;
- `visible_all` applies `visible` to every string of a report before a view draws it;
- `json_text` writes JSON for machines with every control character escaped (the data unchanged).

The terminal views make Rich `Text` of it with `assay.cli.text.plain` (never parsed as
markup). HTML pages escape with their own templates (Jinja2 autoescape; the report's SVG charts through
`assay.report.charts.e`) after `visible`.
"""

from __future__ import annotations

import json
import re
from typing import Any


# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on some terminals),
# bidi embeddings, overrides and isolates, the line and paragraph separators, and the zero-width
# space, word joiners and BOM that hide inside words (not ZWJ and ZWNJ: emoji and scripts need them).
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e"
                           "\u2060-\u2064\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """The text with every control character written as a visible escape; tabs and newlines kept."""
    return CONTROL_CHARS.sub(_escape, text)


def json_text(value: Any, **options: Any) -> str:
    """JSON with every control character a `\\u` escape: json.dumps leaves DEL, the C1 controls and bidi
    overrides raw, and a terminal showing the JSON would act on them. The data itself is unchanged."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return CONTROL_CHARS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def visible_all(value: Any) -> Any:
    """The same structure with `visible` applied to every string in it (keys included)."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible_all(k): visible_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_all(v) for v in value]
    return value
