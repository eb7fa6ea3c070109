"""Text helpers shared by the heuristic filters: tokens, code blocks, URLs, the input payload.

Kept apart from the filters so each filter module reads as its rule and nothing else.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assay.core.records import Sample

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
MENTIONS_LANGUAGE = re.compile(
    r"\btranslat\w*|\b(?:" + "|".join(LANGUAGE_NAMES) + r")\b|\b(?:foreign|another|other) language",
    re.IGNORECASE,
)


@lru_cache(maxsize=64)  # five filters tokenize one sample's texts in turn: a few entries get every hit, and long texts stay few
def words(text: str) -> tuple[str, ...]:
    """Lower-cased word tokens (a tuple: the cached value is shared, so it must not be mutable)."""
    return tuple(WORD.findall(text.lower()))


def without_code(text: str) -> str:
    """The text with fenced code blocks removed (code repeats and mixes languages legitimately)."""
    return FENCED_BLOCK.sub(" ", text)


@lru_cache(maxsize=64)  # several filters read the prose of the same response
def prose(text: str) -> str:
    """The natural-language part of a text: no code blocks, code-like lines or URLs."""
    lines = [line for line in without_code(text).splitlines() if not CODE_LINE.search(line)]
    return URL.sub(" ", "\n".join(lines))


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
