"""A sample's token mask in the viewer: each assistant turn with its masked tokens shaded.

The mask (`assay tokens`, or `[tokens] enabled` in `assay run`) stores, per scored token, its
turn, its character span in that turn's content and its score. The page shows the turn's text
with every masked token inside `<span class="masked" title="score …">`. The markup is built
from character offsets, and every piece of sample text in it is escaped on its own (and its
control characters made visible), so a response holding `<script>` shows it, never runs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from assay.session.token_masks import TokenScore, load_mask
from assay.trace.view import has_table
from assay.ui.marks import wrapped


@dataclass(frozen=True)
class MaskView:
    """What the sample page shows of a mask: the shaded turns by message index, and the counts."""

    turns: dict[int, Markup]
    total: int
    masked: int
    scorer: str
    tokenizer: str
    unshaded: tuple[int, ...]  # turns shown plain: the redactor changed their text, so offsets no longer hold

    @property
    def share(self) -> float:
        """The masked share of the scored tokens."""
        return self.masked / self.total if self.total else 0.0


def mask_view(conn: sqlite3.Connection, sample_id: str, messages: Sequence[dict[str, Any]],
              redact: Callable[[str], str]) -> MaskView | None:
    """The sample's mask as the page shows it, or None when the session stored none for it
    (a session from before masks has no table: also None)."""
    if not has_table(conn, "token_masks"):
        return None
    mask = load_mask(conn, sample_id)
    if mask is None:
        return None
    by_turn: dict[int, list[TokenScore]] = {}
    for token in mask.tokens:
        by_turn.setdefault(token.turn, []).append(token)
    turns: dict[int, Markup] = {}
    unshaded: list[int] = []
    for turn, tokens in sorted(by_turn.items()):
        if not 0 <= turn < len(messages):
            continue  # the sample changed since it was scored: nothing to place these offsets on
        content = str(messages[turn].get("content") or "")
        # A secret in the text would be split across spans, past the page's redactor: show the
        # turn redacted as a whole, without shading, rather than risk showing it.
        if redact(content) != content:
            unshaded.append(turn)
            continue
        turns[turn] = shaded(content, tokens)
    return MaskView(turns, mask.total, mask.masked, mask.scorer, mask.tokenizer, tuple(unshaded))


def shaded(content: str, tokens: Sequence[TokenScore]) -> Markup:
    """The content as markup: each masked token's characters in a span titled with its score, every
    other character as escaped text. Offsets outside the content or overlapping an earlier token
    are clipped, so the text shown is always exactly the content."""
    masked = sorted((t for t in tokens if t.masked), key=lambda t: (t.start, t.end))
    return wrapped(content, ((t.start, t.end, "span", "masked", f"masked · score {t.score:.3f}") for t in masked))
