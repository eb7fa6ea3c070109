"""A literal pre-check for the injection patterns: skip a pattern on a text that cannot hold a match.

Most patterns open with a word list (`\\b(?<!\\bnot )(?:ignore|disregard|...)`). Python's `re`
finds no literal prefix in such a pattern, so it tries the whole pattern at every position of
every text: the detector spent most of its time there. `literal_prefixes` reads the parsed
pattern and returns strings one of which every match must begin with (zero-width assertions
at the start skipped, as they only narrow the matches). A text holding none of them cannot
match, and a substring test is far cheaper than the scan. When no such set can be derived
(an optional or repeated first element, a class of characters, ...) the pattern is always
scanned: the pre-check never changes what is found, only how often the scan runs.

Opening words are often common ("the", "a", "5"), so the gate also uses words from later in the
pattern (`required_literals`): for each mandatory part of the pattern (every suffix of its
top-level sequence, and of the groups and repeats every match must pass through), the strings one
of which that part's match begins with. Each is a substring of every match, so a text lacking all
of one set cannot match. A pattern is scanned only when every chosen set has a string in the text:
"please" for a pattern ending in "please", not the two hundred ways its opening score is written.
"""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]  # the parser's opcodes: stable across 3.11-3.13
from re import _parser  # type: ignore[attr-defined]

_ZERO_WIDTH = {c.AT, c.ASSERT, c.ASSERT_NOT}
MAX_CLASS = 8  # a character class is expanded up to this many characters
MAX_PREFIXES = 64  # prefixes stop growing past this many: each costs a substring test per text
MAX_SETS = 3  # required sets tested per pattern: the cheapest few; more only add tests
MAX_COST = 2.0  # a set costing more (`_cost`: likely in any text, like "a", "5", "my", "it", or long) is not used


class GatedPattern:
    """A compiled pattern with the literal sets each of its matches holds one string of (None: always scan)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.regex = re.compile(pattern, flags)
        self.prefixes = None if flags & re.IGNORECASE else literal_prefixes(pattern, flags)
        self.required = () if flags & re.IGNORECASE else required_literals(pattern, flags)

    def may_match(self, text: str) -> bool:
        """False only when `text` cannot hold a match: it lacks every string of one of the required sets.

        (The prefixes are one such set when they are long enough to be worth a test: `required_literals`.)"""
        for needed in self.required:  # plain loops: a generator per set would cost more than the tests
            for literal in needed:
                if literal in text:
                    break
            else:
                return False
        return True

    def finditer(self, text: str) -> list[re.Match[str]]:
        """The matches, as `re.finditer` finds them; none without scanning when `may_match` says none can be."""
        return list(self.regex.finditer(text)) if self.may_match(text) else []


def literal_prefixes(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    """Strings one of which every match of `pattern` starts with, or None when none can be derived."""
    parsed = _parser.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _sequence(list(parsed))
    if found is None or "" in found[0]:
        return None
    return tuple(sorted(found[0]))


def required_literals(pattern: str, flags: int = 0) -> tuple[tuple[str, ...], ...]:
    """Up to MAX_SETS sets of strings, each such that every match of `pattern` holds one of its strings.

    The sets of least `_cost` are chosen, skipping a set that a chosen
    one implies (each of the chosen set's strings contains one of its strings).
    """
    parsed = _parser.parse(pattern, flags)
    if parsed.state.flags & re.IGNORECASE:
        return ()
    candidates: set[tuple[str, ...]] = set()
    _collect(list(parsed), candidates)
    chosen: list[tuple[str, ...]] = []
    for needed in sorted(candidates, key=lambda strings: (_cost(strings), strings)):
        if len(chosen) == MAX_SETS:
            break
        if not any(all(any(literal in word for literal in needed) for word in other) for other in chosen):
            chosen.append(needed)
    return tuple(chosen)


def _cost(strings: set[str] | tuple[str, ...]) -> float:
    """A set's rough cost as a gate: the chance a text holds one of its strings (each character halves a string's;
    "" is everywhere), plus a little per string for its substring test."""
    if min(map(len, strings)) < 2:
        return MAX_COST  # never chosen
    return sum(0.5 ** len(string) for string in strings) + 0.02 * len(strings)


def _collect(items: list[tuple[object, object]], candidates: set[tuple[str, ...]]) -> None:
    """Add the required sets of a sequence every match passes through: each suffix's prefixes, and the same
    inside its groups and the repeats that run at least once."""
    for i, (op, av) in enumerate(items):
        found = _sequence(items[i:])
        if found is not None and found[0] and _cost(found[0]) < MAX_COST:
            candidates.add(tuple(sorted(found[0])))
        if op is c.SUBPATTERN and not av[1] & re.IGNORECASE:  # type: ignore[index]
            _collect(list(av[-1]), candidates)  # type: ignore[index]
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:  # type: ignore[index]
            _collect(list(av[2]), candidates)  # type: ignore[index]


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
