"""Candidate bias cues of a set of responses, each with the responses that carry it.

Candidates (each becomes a `core.bias_cue.Cue` whose pattern matches exactly what was counted):
- openers: the first 2-5 words, and closers: the last 2-5 words;
- phrases: word n-grams of 3-6 words anywhere;
- format tics: a fixed set (`FORMAT_TICS`): markdown header, bold, bullet list, numbered list,
  emoji, exclamation opener, code fence, a trailing signature-like line;
- length: the long band, responses in the top quintile of words.

Words are maximal runs of word characters, lower-cased, so punctuation and spacing between words
do not matter ("Sure! Here's" and "sure, here s" are the same opener). A candidate needs `min_count`
carriers and as many non-carriers (a cue everyone carries says nothing). A candidate whose carriers
are exactly those of a longer candidate containing its words is dropped ("as an ai" inside "as an ai
language model"). Openers, closers and phrases are counted in bounded memory: discovered on a seeded
sample, then counted exactly over every response (tools/bias_cue_ngrams.py). LLM-free; imports core only.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assay.core.bias_cue import Cue
from assay.tools import bias_cue_ngrams as ngrams

WORD = re.compile(r"\w+")
OPENER_WORDS = (2, 5)
CLOSER_WORDS = (2, 5)
PHRASE_WORDS = (3, 6)
LONG_QUANTILE = 0.8  # the long band: the top quintile of words
FORMAT_TICS: dict[str, str] = {
    "markdown header": r"^[ \t]*#{1,6}[ \t]+\S",
    "bold": r"\*\*[^*\n]+\*\*|__[^_\n]+__",
    "bullet list": r"^[ \t]*[-*\u2022][ \t]+\S",
    "numbered list": r"^[ \t]*\d{1,3}[.)][ \t]+\S",
    "emoji": "[\U0001F300-\U0001FAFF\U0001F000-\U0001F2FF\u2600-\u27BF]",
    "exclamation opener": r"\A\W*[^.!?\n]{1,80}!",
    "code fence": r"^[ \t]*(?:```|~~~)",
    # "-- Name", "— Name", "~ Name": one hyphen is left out, it is how a markdown list's last item starts.
    "signature line": r"\n[ \t]*(?:(?:-{2,}|[\u2013\u2014~]+)[ \t]*\w[^\n]{0,40}|(?:best|kind|warm)?[ \t]*regards\b[^\n]{0,40}"
                      r"|cheers\b[^\n]{0,30}|sincerely\b[^\n]{0,30})\s*\Z",
}


@dataclass(frozen=True)
class Candidate:
    """A cue and the indices of the responses that carry it (sorted)."""

    cue: Cue
    carriers: np.ndarray
    words: tuple[str, ...] = ()  # the lexical cue's words, for subsumption

    @property
    def support(self) -> int:
        """How many responses carry the cue."""
        return int(self.carriers.size)


@lru_cache(maxsize=1)
def _case_fold() -> dict[int, str]:
    """One letter for each class of letters the regex's IGNORECASE treats as equal, built from `re` itself.

    `str.lower()` is not that relation: it turns "İ" into "i" plus a combining dot (a non-word
    character, so one word became two) and leaves "ı", "ſ" and "ϐ" alone, which the regex matches
    as "i", "s" and "β". Counting words in these classes keeps each pattern matching exactly its
    carriers. Only cased letters can match another letter; the table maps each to its class's
    lower-case word character, one character for one (about half a CPU second, once per process)."""
    cased = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).lower() != chr(i) or chr(i).upper() != chr(i)]
    alphabet = "".join(cased)
    parent = {c: c for c in cased}

    def root(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for c in cased:
        for other in re.findall(re.escape(c), alphabet, re.IGNORECASE):
            parent[root(other)] = root(c)
    classes: dict[str, list[str]] = defaultdict(list)
    for c in cased:
        classes[root(c)].append(c)
    table: dict[int, str] = {}
    for members in classes.values():
        # A lower-case word character where there is one, so the words read as text does.
        first = min(members, key=lambda c: (not WORD.fullmatch(c), c != c.lower(), c))
        table.update({ord(c): first for c in members if c != first})
    return table


def tokens(text: str) -> list[str]:
    """The response's words as the lexical candidates count them: split where the regex's \\w ends, and
    case-folded the way its IGNORECASE folds."""
    fold = _case_fold()
    return [word.translate(fold) for word in WORD.findall(text)]  # split first: folding keeps what \\w is


def _joined(words: Sequence[str]) -> str:
    return r"\W+".join(re.escape(w) for w in words)


def lexical_cue(kind: str, words: Sequence[str], surface: str) -> Cue:
    """The cue matching exactly the responses whose words start with, end with or contain `words`."""
    body = _joined(words)
    pattern = {"opener": rf"\A\W*{body}(?!\w)", "closer": rf"(?<!\w){body}\W*\Z"}.get(kind, rf"(?<!\w){body}(?!\w)")
    return Cue(kind=kind, text=surface or " ".join(words), pattern=pattern)  # type: ignore[arg-type]


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    n = len(shorter)
    return any(longer[i:i + n] == shorter for i in range(len(longer) - n + 1))


def _drop_subsumed(found: list[Candidate]) -> list[Candidate]:
    """Drop a lexical candidate carried by exactly the responses of a longer one containing its words
    (or of an opener/closer with the same words: the anchored cue is the more specific)."""
    groups: dict[bytes, list[Candidate]] = defaultdict(list)
    for c in found:
        if c.words:
            groups[c.carriers.tobytes()].append(c)

    def subsumed(c: Candidate) -> bool:
        for other in groups.get(c.carriers.tobytes(), []):
            if other is c or not _contains(other.words, c.words):
                continue
            if len(other.words) > len(c.words) or (c.cue.kind == "phrase" and other.cue.kind != "phrase"):
                return True
        return False

    return [c for c in found if not c.words or not subsumed(c)]


SURFACE_SAMPLES = 50  # carriers looked at for the cue's most common spelling


def _surface(cue_kind: str, words: tuple[str, ...], texts: Sequence[str], ids: Sequence[int]) -> str:
    """How the words are most often written in the first carriers (what a person reads)."""
    regex = re.compile(lexical_cue(cue_kind, words, "x").pattern, re.IGNORECASE)
    spellings = Counter(m.group(0).strip() for i in ids[:SURFACE_SAMPLES] if (m := regex.search(texts[i])))
    return spellings.most_common(1)[0][0] if spellings else " ".join(words)


def candidates(texts: Sequence[str], *, min_share: float = 0.01, min_count: int = 20, seed: int = 0) -> list[Candidate]:
    """Every candidate cue of `texts` with enough carriers and non-carriers, subsumed ones dropped.

    Lexical candidates are found on a sample drawn with `seed` and counted over every text
    (tools/bias_cue_ngrams.py): memory stays bounded however large the pool, the carriers are exact,
    and on a pool that fits the sample (20,000 responses, a million words) nothing depends on `seed`."""
    n = len(texts)
    need = max(min_count, int(np.ceil(min_share * n)))
    found: list[Candidate] = []

    def add(cue: Cue, ids: Sequence[int] | np.ndarray, words: tuple[str, ...] = ()) -> None:
        if need <= len(ids) <= n - need:
            found.append(Candidate(cue, np.sort(np.asarray(ids, dtype=np.int64)), words))

    classes = ngrams.kinds(OPENER_WORDS, CLOSER_WORDS, PHRASE_WORDS)
    counted = ngrams.count(texts, tokens, ngrams.discover(texts, tokens, classes, need, seed), need)
    for kind in ("opener", "closer", "phrase"):
        grams = [(words, ids) for (k, _), table in counted.items() if k == kind for words, ids in table.items()]
        if kind != "phrase":  # as one pass over the responses finds them: by first carrier, shorter first
            grams.sort(key=lambda item: (int(item[1][0]), len(item[0])))
        for words, ids in grams:
            add(lexical_cue(kind, words, _surface(kind, words, texts, ids)), ids, words)
    for name, pattern in FORMAT_TICS.items():
        cue = Cue(kind="format", text=name, pattern=pattern)
        add(cue, [i for i, t in enumerate(texts) if cue.present(t)])
    if n:
        lengths = np.asarray([len(t.split()) for t in texts])
        threshold = max(1, int(np.ceil(np.quantile(lengths, LONG_QUANTILE))))
        cue = Cue(kind="length", text=f"long (>= {threshold} words)", min_words=threshold)
        add(cue, np.flatnonzero(lengths >= threshold))
    return _drop_subsumed(found)
