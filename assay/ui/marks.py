"""Sample text as markup with character spans wrapped in tags: masked tokens, bias cues.

Every piece of sample text is escaped on its own (its control characters made visible first), so a
response holding `<script>` shows it, never runs it; the text shown is always exactly the content.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

from assay.core.safe_text import visible


def inert(piece: str) -> str:
    """One piece of sample text, inert: control characters made visible, then HTML-escaped."""
    return str(escape(visible(piece)))


def wrapped(content: str, spans: Iterable[tuple[int, int, str, str, str]]) -> Markup:
    """The content as markup: each span `(start, end, tag, css_class, title)`, in order, around its
    characters; every other character as escaped text. A span is clipped to the content and to the end
    of the span before it, and dropped when nothing is left of it."""
    parts: list[str] = []
    at = 0
    for start, end, tag, css_class, title in spans:
        start, end = max(start, at), min(end, len(content))
        if start >= end:
            continue
        parts.append(inert(content[at:start]))
        parts.append(f'<{tag} class="{css_class}" title="{inert(title)}">{inert(content[start:end])}</{tag}>')
        at = end
    parts.append(inert(content[at:]))
    return Markup("".join(parts))
