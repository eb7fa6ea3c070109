"""A deterministic prompt-injection detector for sample text.

The judge's prompt already fences sample text off as data; this detector adds a flag that
never depends on the model noticing. It looks for text addressed to whoever grades the
sample (ignore the rubric, rate this 5, please give this full marks, you are now …), for
forged prompt structure (role markers, chat-template tokens, a closing data tag) and for
forged verdicts (the judge's own JSON, written into the sample), in English, Spanish, French,
German, Portuguese, Italian, Russian, Chinese, Japanese and Korean.

Text written to get past a detector is normalised first (`injection_views`): NFKC, invisible
characters removed, look-alike letters folded, accents stripped, and base64, rot13, %-escapes,
entities, leetspeak and spaced-out letters decoded; every reading is searched. The patterns
are narrow on purpose: instruction data legitimately says "rate this review from 1 to 5" or
"you are now ready to deploy", and those must not be flagged (`evals/eval_injection.py`
measures both sides).
"""

from __future__ import annotations

import re

from assay.agents.injection_gate import GatedPattern
from assay.agents.injection_patterns import LATIN, SCRIPT
from assay.agents.injection_views import latin_view, script_view, views

MAX_HIT_CHARS = 80
_LATIN = tuple(GatedPattern(p, re.MULTILINE) for p in LATIN)  # each skips a text holding none of its opening words
_SCRIPT = tuple(GatedPattern(p, re.MULTILINE) for p in SCRIPT)
_NON_LATIN = re.compile("[\u0400-\u04ff\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u1100-\u11ff\uac00-\ud7af]")
# A decoded reading of ordinary text (rot13, reversed, leetspeak) is gibberish: it is searched only when it holds a
# word that one of the Latin patterns needs, which saves five sixths of the time on long clean samples. Substring
# tests, not one regex alternation: `re` would try all ninety words at every position of every reading.
TRIGGER_WORDS = (
    "ignor", "disregard", "forget", "overrid", "bypass", "instruc", "rubric", "guideline", "criteri", "rule", "rate",
    "rating", "score", "grade", "grading", "marks", "judge", "grader", "evaluat", "assess", "review", "system", "prompt",
    "perfect", "maxim", "highest", "full", "deserv", "merit", "you are", "inst]", "sys>", "<|", "[[", "data", "overall",
    "verdict", "issues", "please", "kindly", "appreciat", "grateful", "out of", "mode", "assistant", "reading this",
    "llm", "model", "10/10", "5/5", "20/20", "olvid", "oubli", "vergiss", "vergess", "missacht", "esquec", "dimentic",
    "consign", "regl", "regel", "regra", "regol", "direct", "diret", "richtlin", "vorgab", "indica", "orienta",
    "bareme", "punt", "punkt", "pontu", "avalia", "valut", "nota", "note", "bewert", "voto", "merec", "verdien")
_AI = re.compile(r"\bai\b")  # the one trigger word that must stand alone


def triggered(latin: str) -> bool:
    """Whether a latin view holds a word one of the Latin patterns needs."""
    return any(word in latin for word in TRIGGER_WORDS) or ("ai" in latin and _AI.search(latin) is not None)


def _spans(text: str, detectors: tuple[GatedPattern, ...]) -> list[tuple[int, int]]:
    """The matches in `text`, overlapping ones merged."""
    found = sorted((m.start(), m.end()) for detector in detectors for m in detector.finditer(text))
    merged: list[list[int]] = []
    for start, end in found:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged if end > start]


def _as_written(snippet: str, text: str) -> str:
    """The snippet as the original text spells it (accents, look-alikes and all) where the text holds it;
    as decoded otherwise."""
    found = re.search(re.escape(snippet), text, re.IGNORECASE)
    if found:
        return found.group(0)
    folded, origin = [], []  # the latin view built a character at a time, remembering where each came from
    for i, char in enumerate(text):
        for out in latin_view(script_view(char)):
            folded.append(out)
            origin.append(i)
    at = "".join(folded).find(snippet)
    return text[origin[at]:origin[at + len(snippet) - 1] + 1] if at >= 0 and snippet else snippet


def detect_injection(text: str) -> list[str]:
    """The injection attempts found in `text`, in order of the readings that show them; overlapping
    matches are one snippet. A snippet is quoted as written where it can be, else as decoded."""
    text = text or ""
    hits: list[str] = []
    for script, latin, decoded in views(text):
        searched: list[tuple[str, tuple[GatedPattern, ...]]] = []
        if _NON_LATIN.search(script):
            searched.append((script, _SCRIPT))
        if not decoded or triggered(latin):
            searched.append((latin, _LATIN))
        for view, detectors in searched:
            _add_hits(hits, view, detectors, text)
    return hits


def _add_hits(hits: list[str], view: str, detectors: tuple[GatedPattern, ...], text: str) -> None:
    for start, end in _spans(view, detectors):
        snippet = _as_written(view[start:end].strip(), text)[:MAX_HIT_CHARS]
        if snippet and snippet.casefold() not in (h.casefold() for h in hits):
            hits.append(snippet)
