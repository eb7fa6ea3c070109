"""Case-insensitive patterns searched fast: on ASCII text, as case-sensitive ones on the lower-cased text.

An IGNORECASE search is about three times slower than a plain one (the engine cannot use its
literal prefixes), and the screens run a dozen such patterns over every sample. On ASCII text,
`str.lower()` maps exactly the letter pairs IGNORECASE equates (A-Z to a-z) and keeps every
position and every \\w, \\s, \\b, so a lower-case pattern finds a match in `text.lower()` exactly
when the IGNORECASE pattern finds one in `text`. Other text (where IGNORECASE also equates
"ſ" with "s", or the Kelvin sign with "k") goes to the IGNORECASE pattern itself.
"""

from __future__ import annotations

import re


class FoldedPattern:
    """An IGNORECASE pattern that answers only whether it occurs in a text, fast on ASCII text."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        # Upper-case letters would not match lowered text, and an escape such as \S or \W means
        # something else lower-cased; a non-ASCII character with case would fold differently.
        if any(c.lower() != c or (not c.isascii() and c.upper() != c) for c in pattern):
            raise ValueError(f"FoldedPattern needs a lower-case pattern without case-bearing non-ASCII: {pattern!r}")
        self.pattern = re.compile(pattern, flags | re.IGNORECASE)
        self._lowered = re.compile(pattern, flags)

    def found(self, text: str) -> bool:
        """True when the pattern occurs in `text`, ignoring case (as `self.pattern.search(text)`)."""
        if text.isascii():
            return self._lowered.search(text.lower()) is not None
        return self.pattern.search(text) is not None
