"""Text helpers shared by the heuristic filters: tokens, code blocks, URLs, the input payload.

Kept apart from the filters so each filter module reads as its rule and nothing else.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assay.core.records import Sample
from assay.tools.heuristics_fold import FoldedPattern

WORD = re.compile(r"\w+(?:['’]\w+)*")
URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>()\[\]\"'`]+", re.IGNORECASE)
FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
FENCED_BLOCK = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.DOTALL)
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")

# Words that cannot end a finished English sentence or list item: an answer stopping on one
# stopped mid-phrase. Prepositions are left out on purpose: English strands them ("a task
# they are struggling with"), so they are no evidence of a cut.
DANGLING_WORDS = frozenset(
    """a an the and or but nor because although though whereas unless than of such very their
    our your its my whose including include includes namely""".split()
)
# Lines of code (case-sensitive on purpose: "If you ..." is prose, "if x:" is code).
CODE_LINE = re.compile(
    r"[{}=<>]|;\s*$|^\s*(?:def|class|import|from|return|for|if|elif|else|while|var|let|const|function|public|"
    r"#include|SELECT)\b|^\s*[\w.]+\(.*\)\s*;?\s*$"  # the last: a bare call, print("...")
)
CODE_CHAR = re.compile(r"[{}=<>;(]")
OTHER_BREAK = re.compile(r"[\r\v\f\x1c-\x1e\x85\u2028\u2029]")
CODE_KEYWORD_LINE = re.compile(  # CODE_LINE's keyword alternative, over all lines of a text at once
    r"^\s*(?:def|class|import|from|return|for|if|elif|else|while|var|let|const|function|public|#include|SELECT)\b",
    re.MULTILINE,
)

# Frequent English words; their share of a text's tokens says "this is English" cheaply.
ENGLISH_COMMON = frozenset(
    """the be to of and a in that have i it for not on with he as you do at this but his by from
    they we say her she or an will my one all would there their what so up out if about who get
    which go me when make can like time no just him know take people into year your good some
    could them see other than then now look only come its over think also back after use two how
    our work first well way even new want because any these give day most us is are was were been
    has had does did should may might must each such here where why more many those very""".split()
)

LANGUAGE_NAMES = (
    "english french spanish german italian portuguese dutch russian chinese mandarin cantonese "
    "japanese korean arabic hindi bengali urdu turkish greek latin hebrew polish swedish norwegian "
    "danish finnish czech hungarian romanian ukrainian vietnamese thai indonesian malay swahili "
    "tagalog filipino persian farsi catalan esperanto irish welsh punjabi tamil telugu marathi"
).split()
MENTIONS_LANGUAGE = FoldedPattern(
    r"\btranslat\w*|\b(?:" + "|".join(LANGUAGE_NAMES) + r")\b|\b(?:foreign|another|other) language"
)


@lru_cache(maxsize=64)  # five filters tokenize one sample's texts in turn: a few entries get every hit, and long texts stay few
def words(text: str) -> tuple[str, ...]:
    """Lower-cased word tokens (a tuple: the cached value is shared, so it must not be mutable)."""
    return tuple(WORD.findall(text.lower()))


def without_code(text: str) -> str:
    """The text with fenced code blocks removed (code repeats and mixes languages legitimately)."""
    if "```" not in text and "~~~" not in text:  # no fence, nothing to remove: skip the scan
        return text
    return FENCED_BLOCK.sub(" ", text)


@lru_cache(maxsize=64)  # several filters read the prose of the same response
def prose(text: str) -> str:
    """The natural-language part of a text: no code blocks, code-like lines or URLs."""
    text = without_code(text)
    lines = text.splitlines()
    if _may_hold_code_lines(text):
        lines = [line for line in lines if not CODE_LINE.search(line)]
    joined = "\n".join(lines)
    # Every URL holds "://" or "www." (in any case; on ASCII text, lower() covers every case).
    if joined.isascii() and "://" not in joined and "www." not in joined.lower():
        return joined
    return URL.sub(" ", joined)


def _may_hold_code_lines(text: str) -> bool:
    """False only when no line of `text` can match CODE_LINE, found without splitting it.

    Every CODE_LINE alternative but the keyword one needs one of "{}=<>;(". The keyword one
    is searched line by line through MULTILINE, which is exact when "\n" is the only line
    break: splitlines() also breaks at \r, \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029.
    """
    if CODE_CHAR.search(text) or OTHER_BREAK.search(text):
        return True
    return CODE_KEYWORD_LINE.search(text) is not None


def has_unclosed_fence(text: str) -> bool:
    """True when a ``` (or ~~~) code fence is opened and never closed."""
    return len(FENCE.findall(text)) % 2 == 1


def sentences(text: str) -> list[str]:
    """Rough sentence split on terminal punctuation and line breaks."""
    parts: list[str] = []
    for line in text.splitlines():
        parts.extend(p.strip() for p in SENTENCE_END.split(line) if p.strip())
    return parts


def input_payload(sample: Sample) -> str | None:
    """The data the instruction works on, when it is given apart from the instruction.

    Alpaca records carry it as `input`; a joined user turn ("instruction\\n\\ninput") is split
    at its last blank line. None when the sample has no separate payload.
    """
    origin = sample.origin
    if origin is not None and origin.record is not None and origin.format == "alpaca":
        given = origin.record.get("input")
        return given.strip() if isinstance(given, str) and given.strip() else None
    head, sep, tail = sample.instruction.strip().rpartition("\n\n")
    return tail.strip() if sep and head.strip() and tail.strip() else None


def task_text(sample: Sample) -> str:
    """The instruction proper, without its input payload."""
    origin = sample.origin
    if origin is not None and origin.record is not None and origin.format == "alpaca":
        given = origin.record.get("instruction")
        if isinstance(given, str):
            return given.strip()
    payload = input_payload(sample)
    text = sample.instruction.strip()
    return text[: len(text) - len(payload)].strip() if payload else text
