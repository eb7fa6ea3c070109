"""A bias cue: a surface feature of a response that may predict the judge's outcome apart from
its content. A stock opener ("As an AI language model"), a signature phrase, a format tic (bold
headers, emoji), or its length.

Detection (`tools/bias_cue_detect.py`, stored by `session/bias_cues.py`) finds cues and measures them; the repair
(`pipeline/repair/cues.py`) asks the rewriter to remove them; the report counts them before and
after. All three decide whether a response carries a cue here, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

CueKind = Literal["phrase", "opener", "closer", "format", "length"]


@dataclass(frozen=True)
class Cue:
    """One cue. `pattern` is a regular expression searched case-insensitively in the response
    (for `opener` it is anchored at the start, for `closer` at the end, by the detector that built
    it); a `length` cue has no pattern and is present when the response has at least `min_words`
    words. `text` is what a person reads: the phrase, or the tic's or length band's name."""

    kind: CueKind
    text: str
    pattern: str = ""
    min_words: int = 0
    flags: int = field(default=re.IGNORECASE | re.MULTILINE, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "length":
            if self.min_words <= 0:
                raise ValueError("a length cue needs min_words > 0")
        elif not self.pattern:
            raise ValueError(f"a {self.kind} cue needs a pattern")

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, self.flags)

    @property
    def removable(self) -> bool:
        """Whether deleting or rephrasing text removes the cue (a length cue needs a shorter answer)."""
        return self.kind != "length"

    def spans(self, response: str) -> list[tuple[int, int]]:
        """Character spans of the cue in the response (empty for a length cue)."""
        if self.kind == "length":
            return []
        return [(m.start(), m.end()) for m in self._regex.finditer(response) if m.end() > m.start()]

    def present(self, response: str) -> bool:
        """Whether the response carries the cue."""
        if self.kind == "length":
            return len(response.split()) >= self.min_words
        return self._regex.search(response) is not None

    def key(self) -> str:
        """A stable name for tables and JSON: kind and text."""
        return f"{self.kind}:{self.text}"
