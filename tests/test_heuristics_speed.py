"""The fast paths of the heuristic and code screens give exactly what the plain code gave.

Each `_old_*` below is the implementation before the speed work, kept here as the reference;
the new code must agree with it on every Alpaca text and on the edge cases that the fast
paths special-case (non-ASCII case folding, line breaks other than "\\n", URLs, fences).
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from assay.core.formats import record_to_sample
from assay.core.assessment import Assessment, drop
from assay.core.records import Sample
from assay.tools import code_blocks, code_lines, heuristics_refusal, heuristics_text
from assay.tools import heuristics_output as out
from assay.tools.code_syntax import check
from assay.tools.heuristics import HeuristicConfig, LanguageGuesser, empty_output, repetition
from assay.tools.heuristics_fold import FoldedPattern
from assay.tools.heuristics_output import _longest_run, _unclosed_on_last_line
from assay.tools.heuristics_text import CODE_LINE, URL, prose, sentences, without_code, words
from tests.conftest import need_shared_data

CONFIG = HeuristicConfig()
EDGE_TEXTS = [
    "", "As an AI language model, I cannot do that.", "AS AN AI LANGUAGE MODEL I CANNOT",
    "as an \u212aelvin AI", "engli\u017fh text", "Translate into FRENCH", "I\u2019m sorry, but I can\u2019t help.",
    "Visit WWW.Example.com or HTTP://x.org now", "line one\rdef f(x):\r  return x\rend",
    "text\n```python\nx = 1\n```\nmore", "a\u2028if x: y\u2029b", "  if x\n\n   for y in z", "print(x)\n;",
    "Write a SQL query on the table", "\u00fcber PYTHON und Json", "Hello (world", 'Say "(" and `{` then (open',
    "<no output>", "N/A", "<cropped image attached>", "none", " - ", "It is nice. It is nice. It is nice. Yes.",
]


@pytest.fixture(scope="module")
def alpaca() -> list[dict]:
    return json.loads((need_shared_data() / "alpaca" / "alpaca_5000.json").read_text())


def _texts(alpaca: list[dict]) -> list[str]:
    return [r[key] for r in alpaca for key in ("instruction", "input", "output") if r.get(key)] + EDGE_TEXTS


def _samples(alpaca: list[dict]) -> list[Sample]:
    edge = [{"instruction": "Say it", "input": "", "output": text or "x"} for text in EDGE_TEXTS]
    return [record_to_sample(r, "alpaca", "alpaca_5000.json") for r in alpaca + edge]


def _old_prose(text: str) -> str:
    lines = [line for line in heuristics_text.FENCED_BLOCK.sub(" ", text).splitlines() if not CODE_LINE.search(line)]
    return URL.sub(" ", "\n".join(lines))


def _old_unclosed(text: str) -> int:
    line = text[text.rfind("\n") + 1 :]
    stack: list[int] = []
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"`":
            quote = char
        elif char in "([{":
            stack.append(i)
        elif char in ")]}" and stack and line[stack[-1]] == "([{"[")]}".index(char)]:
            stack.pop()
    return len(stack)  # brackets inside generated strings: the same function after the loop, not under test


def _old_repetition_scores(sample: Sample) -> dict[str, float]:
    text = _old_prose(sample.response)
    tokens = [w for w in words(text) if len(w) > 1]
    trigrams = list(zip(tokens, tokens[1:], tokens[2:], strict=False))
    ratio = 1.0 - len(set(trigrams)) / len(trigrams) if trigrams else 0.0
    said = [s.lower() for s in sentences(text) if s.count(" ") >= 2]
    top = Counter(said).most_common(1)
    return {"repetition_ratio": round(ratio, 4), "max_sentence_repeats": float(top[0][1] if top else 0),
            "run": float(_longest_run(said)), "top": top[0][0] if top else ""}


def _old_empty_output(sample: Sample) -> Assessment:
    response = sample.response.strip()
    normalised = out.PLACEHOLDER_NOISE.sub("", response.lower())
    chars = float(len(response))
    if out.FILLER.fullmatch(response):
        return drop("empty_output", "the response is empty or a filler such as '-' or '...'", response_chars=chars)
    if out.SLOT.fullmatch(response) and (len(words(response)) >= 2 or normalised in out.SLOT_WORDS):
        return drop("empty_output", f"the response is the placeholder {response!r}", response_chars=chars)
    if normalised in out.PLACEHOLDERS and len(response) <= 20:
        if normalised == "none" and out.NONE_IS_AN_ANSWER.search(sample.instruction):
            return Assessment(scores={"response_chars": chars})
        return drop("empty_output", f"the response is the placeholder {response!r}", response_chars=chars)
    return Assessment(scores={"response_chars": chars})


def test_folded_patterns_find_what_the_ignorecase_patterns_find(alpaca: list[dict]) -> None:
    folded = [heuristics_text.MENTIONS_LANGUAGE, *code_blocks.NAMED.values(), heuristics_refusal.AI_SELF_REFERENCE,
              heuristics_refusal.DECLINE, heuristics_refusal.NO_ACCESS, heuristics_refusal.CANNOT,
              heuristics_refusal.ABOUT_AI, heuristics_refusal.WRITES_IN_A_VOICE]
    for text in _texts(alpaca):
        for pattern in folded:
            assert pattern.found(text) == (pattern.pattern.search(text) is not None), (pattern.pattern.pattern, text)
    # IGNORECASE equates the Kelvin sign with "k" and the long s with "s": non-ASCII text keeps it.
    assert FoldedPattern(r"\bkelvin\b").found("\u212aelvin") and FoldedPattern("english").found("engli\u017fh")


def test_a_folded_pattern_refuses_what_lower_casing_would_change() -> None:
    for pattern in (r"\S+", "Python", "caf\u00e9"):
        with pytest.raises(ValueError):
            FoldedPattern(pattern)


def test_prose_is_what_it_was(alpaca: list[dict]) -> None:
    for text in _texts(alpaca):
        assert prose(text) == _old_prose(text), text
        assert without_code(text) == heuristics_text.FENCED_BLOCK.sub(" ", text)


def test_output_measures_are_what_they_were(alpaca: list[dict]) -> None:
    for sample in _samples(alpaca):
        old = _old_repetition_scores(sample)
        new = repetition(sample, CONFIG)
        assert new.scores == {k: old[k] for k in ("repetition_ratio", "max_sentence_repeats")}
        looped = old["run"] >= CONFIG.repetition_max_sentence_repeats
        assert new.keep or looped or old["repetition_ratio"] >= CONFIG.repetition_max_ratio
        if not new.keep and new.detail and "sentence is repeated" in new.detail:
            assert repr(str(old["top"])[:60]) in new.detail
        response = sample.response.rstrip()
        if not re.search(r"\S*[A-Z]\S*[a-z]\S*\d|\S*\d\S*[A-Z]", response[response.rfind("\n") + 1 :]):
            assert _unclosed_on_last_line(response) == _old_unclosed(response), response
        assert empty_output(sample, CONFIG) == _old_empty_output(sample)


def test_remembered_checks_and_guesses_equal_fresh_ones(alpaca: list[dict]) -> None:
    codes = [r["output"] for r in alpaca if "(" in r["output"] or "SELECT" in r["output"]][:40]
    for code in codes:
        for language in ("python", "json", "sql"):
            assert code_blocks.parse_problem(language, code) == check(language, code)
            assert code_blocks.parse_problem(language, code) == check(language, code)  # from the cache
    guesser = LanguageGuesser(0)
    fresh = LanguageGuesser(0)
    for text in [r["output"] for r in alpaca[:20]] + ["Bonjour, comment allez-vous aujourd'hui ?"]:
        first = guesser.guess(text)
        assert guesser.guess(text) == first == fresh._detect(text)



def test_the_code_line_prefilter_misses_no_line_that_could_start_a_run(alpaca: list[dict]) -> None:
    patterns = (code_lines.CODE_START, code_lines.ASSIGNMENT, code_lines.CALL, code_lines.SYMBOLIC)
    texts = _texts(alpaca) + ["x = 1\ny = 2", "  }", '{"a": 1}', "SELECT a FROM t;", "print(1)\nprint(2)", '"""doc"""']
    for text in texts:
        lines = text.splitlines()
        if any(p.search(line) for p in patterns for line in lines) or code_lines.TRIPLE_QUOTE.search(text):
            assert code_lines.may_hold_code(text), text
            for line in lines:  # each such line on its own, too: the MULTILINE search finds it at any place
                if any(p.search(line) for p in patterns):
                    assert code_lines.may_hold_code("prose here\n" + line + "\nmore prose"), line
        if not code_lines.may_hold_code(text):
            assert code_lines.code_runs(list(enumerate(lines))) == []
