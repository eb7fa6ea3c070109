"""A literal pre-check for the injection patterns: skip a pattern on a text that cannot hold a match.

Most patterns open with a word list (`\\b(?<!\\bnot )(?:ignore|disregard|...)`). Python's `re`
finds no literal prefix in such a pattern, so it tries the whole pattern at every position of
every text: the detector spent most of its time there. `literal_prefixes` reads the parsed
pattern and returns strings one of which every match must begin with (zero-width assertions
at the start skipped, as they only narrow the matches). A text holding none of them cannot
match, and a substring test is far cheaper than the scan. When no such set can be derived
(an optional or repeated first element, a class of characters, ...) the pattern is always
scanned: the pre-check never changes what is found, only how often the scan runs.
"""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]  # the parser's opcodes: stable across 3.11-3.13
from re import _parser  # type: ignore[attr-defined]

_ZERO_WIDTH = {c.AT, c.ASSERT, c.ASSERT_NOT}
MAX_CLASS = 8  # a character class is expanded up to this many characters
MAX_PREFIXES = 64  # prefixes stop growing past this many: each costs a substring test per text


class GatedPattern:
    """A compiled pattern with the literals one of which each of its matches begins with (None: always scan)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.regex = re.compile(pattern, flags)
        self.prefixes = None if flags & re.IGNORECASE else literal_prefixes(pattern, flags)

    def finditer(self, text: str) -> list[re.Match[str]]:
        """The matches, as `re.finditer` finds them; none without scanning when no prefix occurs in `text`."""
        if self.prefixes is not None and not any(prefix in text for prefix in self.prefixes):
            return []
        return list(self.regex.finditer(text))


def literal_prefixes(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    """Strings one of which every match of `pattern` starts with, or None when none can be derived."""
    parsed = _parser.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _sequence(list(parsed))
    if found is None or "" in found[0]:
        return None
    return tuple(sorted(found[0]))


Prefixes = tuple[set[str], bool]  # the strings a match starts with; True when they are the whole match


def _sequence(items: list[tuple[object, object]]) -> Prefixes | None:
    """Prefixes of a sequence: each element's prefixes appended while the ones before it are whole."""
    found, whole = {""}, True
    for op, av in items:
        element = _element(op, av)
        if element is None:
            whole = False
            break
        # The first element's prefixes are kept however many: the set must stay sound, not small.
        fits = found == {""} or len(found) * len(element[0]) <= MAX_PREFIXES
        longer = {a + b for a in found for b in element[0]} if fits else None
        if longer is None:
            whole = False
            break
        found = longer
        if not element[1]:
            whole = False
            break
    return found, whole


def _element(op: object, av: object) -> Prefixes | None:
    """Prefixes of one parsed element, or None when they cannot be derived."""
    if op in _ZERO_WIDTH:
        return {""}, True
    if op is c.LITERAL:
        return {chr(av)}, True  # type: ignore[arg-type]
    if op is c.SUBPATTERN:
        if av[1] & re.IGNORECASE:  # type: ignore[index]  # (?i:...): a literal may match in either case
            return None
        return _sequence(list(av[-1]))  # type: ignore[index]
    if op is c.BRANCH:
        found: set[str] = set()
        whole = True
        for alternative in av[1]:  # type: ignore[index]
            branch = _sequence(list(alternative))
            if branch is None:
                return None
            found |= branch[0]
            whole = whole and branch[1]
        return found, whole
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, item = av  # type: ignore[misc]
        inner = _sequence(list(item))
        if inner is None:
            return None
        if low == 0:  # optional: the match may also start with what follows
            return inner[0] | {""}, inner[1] and high == 1
        return inner[0], inner[1] and low == high == 1
    if op is c.IN:
        chars = [chr(v) for o, v in av if o is c.LITERAL]  # type: ignore[union-attr]
        return (set(chars), True) if len(chars) == len(av) and len(chars) <= MAX_CLASS else None  # type: ignore[arg-type]
    return None
