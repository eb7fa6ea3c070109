"""Filters on the response alone: empty, truncated, repetitive, or of an implausible length."""

from __future__ import annotations

import re
from collections import Counter

from assay.core.records import Sample
from assay.core.assessment import Assessment, drop
from assay.tools.heuristics_config import HeuristicConfig
from assay.tools.heuristics_text import CODE_LINE, DANGLING_WORDS, has_unclosed_fence, prose, sentences, words

DEFAULTS = HeuristicConfig()

# Placeholders left where an answer should be, compared after normalising case, brackets,
# spaces and separators: "<no output>", "N/A", "<nooutput>", "noinput" ...
PLACEHOLDERS = frozenset(
    "noinput nooutput noresponse noanswer na none null nil empty blank tbd todo notapplicable".split()
)
MEDIA = frozenset("image img audio video output file picture photo attachment answer response text".split())
SLOT_WORDS = PLACEHOLDERS | MEDIA
FILLER = re.compile(r"[\s\-–—_.…/?]*")  # "-", "...", "?": nothing said ("`:-)`" says something)
SLOT = re.compile(r"<[^<>=/\n]{1,60}>")  # "<output audio>", "<cropped image attached>", not "<br/>"
PLACEHOLDER_NOISE = re.compile(r"[\s<>\[\]{}()\"'`_\-/.:]+")
# "None" is a real answer to "which of these ...?" or "how many ...?"
NONE_IS_AN_ANSWER = re.compile(r"\b(which|how many|any|are there|is there|identify|find|list|select)\b", re.I)

OPENERS, CLOSERS = "([{", ")]}"
BRACKET_OR_QUOTE = re.compile(r"[(\[{)\]}\"`]")
TERMINAL = set(".!?…\"'”’)]}>*`|;")
# A comma, an opening bracket, "=" or a free-standing dash cannot end a text ("C++", "A-" can).
DANGLING_END = re.compile(r"(?:[,(=&]|\s[-–—])$")
LABELLED_VALUE = re.compile(r"^[^:]{1,40}:\s*\S+(?:\s+\S+)?\s*$")  # "Article: the" answers a field
LIST_MARKER_ONLY = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*$")

LONG_FORM = re.compile(
    r"^\s*(?:please\s+)?(?:explain|describe|discuss|write (?:an? )?(?:essay|story|article|blog|paragraph|"
    r"letter|speech|poem|report|review)|compose|elaborate|summari[sz]e|outline)\b",
    re.IGNORECASE,
)
ASKS_FOR_SHORT = re.compile(
    r"\b(?:in|with|using) (?:one|a|1|two|2|three|3|four|4|five|5|a few|a single)\b[ -]?(?:\w+ )?"
    r"(?:words?|sentences?|phrases?|lines?)\b|\bone[- ]word\b|\bbrief(?:ly)?\b|\bshort\b|\btitle\b|\bname\b"
    # a verdict is a short answer: "describe whether ...", "explain which ..."
    r"|\bclassif\w*|\bidentify\b|\bcategori[sz]\w*|\blabel\b|\bdetermine\b|\bwhich\b|\bwhether\b|"
    r"\btrue or false\b|\byes or no\b|\bchoose\b|\bselect\b|\bpick\b|\brate\b|\btype of\b",
    re.IGNORECASE,
)


def empty_output(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop responses that are empty, whitespace, or a placeholder such as `<nooutput>` or `N/A`."""
    response = sample.response.strip()
    chars = float(len(response))
    if FILLER.fullmatch(response):
        return drop("empty_output", "the response is empty or a filler such as '-' or '...'", response_chars=chars)
    slot = SLOT.fullmatch(response)
    if not slot and len(response) > 20:  # no placeholder can match: skip normalising a long answer
        return Assessment(scores={"response_chars": chars})
    normalised = PLACEHOLDER_NOISE.sub("", response.lower())
    if slot and (len(words(response)) >= 2 or normalised in SLOT_WORDS):
        return drop("empty_output", f"the response is the placeholder {response!r}", response_chars=chars)
    if normalised in PLACEHOLDERS and len(response) <= 20:
        if normalised == "none" and NONE_IS_AN_ANSWER.search(sample.instruction):
            return Assessment(scores={"response_chars": chars})
        return drop("empty_output", f"the response is the placeholder {response!r}", response_chars=chars)
    return Assessment(scores={"response_chars": chars})


def truncated(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop responses that stop mid-sentence, mid-list or mid-code.

    Legit endings are many (a number, a closed code block, a list item, a one-word
    answer), so only positive evidence of a cut counts: an unclosed code fence, a bracket
    opened on the last line and never closed, a dangling comma or list marker, or a last
    word that cannot end a phrase ("and", "the", "of").
    """
    response = sample.response.rstrip()
    unclosed = float(_unclosed_on_last_line(response))
    scores = {"unclosed_brackets": unclosed}
    if not response:
        return Assessment(scores=scores)
    if has_unclosed_fence(response):
        return drop("truncated", "a code block is opened and never closed", **scores)
    if unclosed and response[-1] not in TERMINAL and response[-1] != "$":
        return drop("truncated", "the last line opens a bracket that is never closed", **scores)
    last_line = response.splitlines()[-1]
    if LIST_MARKER_ONLY.match(last_line) and len(response.splitlines()) > 1:
        return drop("truncated", "the response ends on an empty list item", **scores)
    if len(words(response)) < config.truncated_min_words or response[-1] in TERMINAL:
        return Assessment(scores=scores)
    if DANGLING_END.search(response) and not _sign_off(response):
        return drop("truncated", f"the response ends on {response[-1]!r}", **scores)
    if response[-1] == ":" and len(words(last_line)) >= 4:
        return drop("truncated", "the response announces something and stops", **scores)
    last_tokens = words(last_line)
    last_word = last_tokens[-1] if last_tokens else ""
    prose_line = not CODE_LINE.search(last_line) and not LABELLED_VALUE.match(last_line)
    symbols = sum(1 for t in last_tokens if len(t) == 1) > len(last_tokens) / 2  # "B A G G A": notes, not words
    if last_word in DANGLING_WORDS and response[-1].isalpha() and prose_line and not symbols:
        return drop("truncated", f"the response stops on {last_word!r}", **scores)
    return Assessment(scores=scores)


def _sign_off(response: str) -> bool:
    """A letter closing on "Best regards," with the name left out: complete enough."""
    lines = [line for line in response.splitlines() if line.strip()]
    return len(lines) > 1 and len(words(lines[-1])) <= 3 and len(words(response)) >= 10


def _unclosed_on_last_line(text: str) -> int:
    """Brackets opened on the last line and never closed (a cut expression).

    An opener left open on an earlier line is more often a typo or a smiley than a cut,
    and a bracket opened on the last line can only close there, so only that line is
    scanned. Quoted strings are skipped so "(" inside quotes does not count.
    """
    line = text[text.rfind("\n") + 1 :]
    if not any(char in line for char in OPENERS):
        return 0
    stack: list[int] = []
    quote = ""
    for found in BRACKET_OR_QUOTE.finditer(line):  # every other character leaves the state as it is
        i, char = found.start(), found.group()
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"`":
            quote = char
        elif char in OPENERS:
            stack.append(i)
        elif char in CLOSERS and stack and line[stack[-1]] == OPENERS[CLOSERS.index(char)]:
            stack.pop()
    return sum(1 for i in stack if not _inside_generated_string(line, i))


def _inside_generated_string(text: str, index: int) -> bool:
    """True when the bracket sits inside a token mixing cases and digits: a password, an id."""
    start = max(text.rfind(" ", 0, index), text.rfind("\n", 0, index)) + 1
    end = len(text) if (space := re.search(r"\s", text[index:])) is None else index + space.start()
    token = text[start:end]
    mixed = any(c.isupper() for c in token) and any(c.islower() for c in token) and any(c.isdigit() for c in token)
    return index < end - 1 and mixed


def repetition(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop responses that loop: many duplicate word 3-grams, or one sentence said over and over."""
    # Code, tables and note sequences repeat by nature ("T T F", "<td>"): judge the prose, and
    # skip one-character tokens, which are symbols more often than words.
    text = prose(sample.response)
    tokens = [w for w in words(text) if len(w) > 1]
    count = len(tokens) - 2  # word 3-grams; the set is built straight from zip, with no list in between
    ratio = 1.0 - len(set(zip(tokens, tokens[1:], tokens[2:]))) / count if count > 0 else 0.0
    said = [s.lower() for s in sentences(text) if s.count(" ") >= 2]  # three words or more
    if len(set(said)) == len(said):  # no sentence comes back (most answers): no counting, no runs
        top, run = ([(said[0], 1)] if said else []), min(len(said), 1)
    else:
        top, run = Counter(said).most_common(1), _longest_run(said)
    most_repeats = top[0][1] if top else 0
    scores = {"repetition_ratio": round(ratio, 4), "max_sentence_repeats": float(most_repeats)}
    if count >= config.repetition_min_ngrams and ratio >= config.repetition_max_ratio:
        return drop("repetition", f"{ratio:.0%} of the word 3-grams are repeats", **scores)
    # A loop says the same sentence back to back; a chorus comes back between verses, so
    # scattered repeats count only when they make up most of the text.
    repeats = config.repetition_max_sentence_repeats
    if run >= repeats or (most_repeats >= repeats and most_repeats > config.repetition_sentence_share * len(said)):
        return drop("repetition", f"one sentence is repeated {most_repeats} times: {top[0][0][:60]!r}", **scores)
    return Assessment(scores=scores)


def _longest_run(items: list[str]) -> int:
    longest = current = 0
    for i, item in enumerate(items):
        current = current + 1 if i and item == items[i - 1] else 1
        longest = max(longest, current)
    return longest


def length_outlier(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop responses far too short for a long-form request, or absurdly long."""
    response = sample.response
    count = len(words(response))
    scores = {"response_words": float(count), "instruction_words": float(len(words(sample.instruction)))}
    if count > config.max_response_words or len(response) > config.max_response_chars:
        return drop("length_outlier", f"the response is absurdly long ({count} words)", **scores)
    instruction = sample.instruction
    if count < config.long_form_min_words and LONG_FORM.search(instruction) and not ASKS_FOR_SHORT.search(instruction):
        return drop("length_outlier", f"a long-form request answered in {count} words", **scores)
    return Assessment(scores=scores)
