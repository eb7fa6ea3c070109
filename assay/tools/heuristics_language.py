"""The wrong_language filter: a response in another language than its instruction.

Language identification is unreliable on short or mixed text, so the filter judges only
when both sides are long enough, skips code, and exempts translation tasks and any task
that names a language. Most pairs are plainly English on both sides; a word-list check
settles those without the detector (langdetect, pure Python, seeded for repeatable
results), which then only sees the few pairs that need it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from assay.core.records import Sample
from assay.core.assessment import Assessment, drop
from assay.tools.heuristics_config import HeuristicConfig
from assay.tools.heuristics_text import ENGLISH_COMMON, MENTIONS_LANGUAGE, input_payload, prose, task_text, words

DEFAULTS = HeuristicConfig()
JAPANESE_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA"}
# Kana, CJK ideographs and Thai: scripts written without spaces between words (Korean has them).
SPACELESS_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
ITEM_SEPARATOR = re.compile(r"[,;:\n•|]|\s[-–—]\s|\band\b|\bor\b|\d+[.)]\s")
ASCII_LETTER = re.compile(r"[A-Za-z]")
NON_ASCII_LETTER = re.compile(r"[^\W\d_A-Za-z]")


class LanguageGuesser:
    """langdetect with its own seeded factory, so no global state is touched."""

    def __init__(self, seed: int = 0) -> None:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

        self._factory = DetectorFactory()
        self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.seed = seed
        # A detector reseeds itself for every text, so a text's guess never changes: the answer
        # guessed by wrong_language is guessed again when the input is compared with it.
        self._remembered = lru_cache(maxsize=256)(self._detect)

    def guess(self, text: str) -> tuple[str, float] | None:
        """The most probable language code and its probability, or None when there is no signal."""
        return self._remembered(text)

    def _detect(self, text: str) -> tuple[str, float] | None:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._factory.create()
        detector.append(text)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return None
        return best.lang, best.prob


@lru_cache(maxsize=4)
def shared_guesser(seed: int) -> LanguageGuesser:
    """One guesser per seed for the process: loading the profiles takes about a second."""
    return LanguageGuesser(seed)


def wrong_language(
    sample: Sample, config: HeuristicConfig = DEFAULTS, guesser: LanguageGuesser | None = None
) -> Assessment:
    """Drop responses written in a different language from the instruction."""
    task = task_text(sample)
    if MENTIONS_LANGUAGE.found(sample.instruction):
        return Assessment()
    asked, answered = prose(task), prose(sample.response)
    if _size(asked) < config.language_min_instruction_words or _size(answered) < config.language_min_response_words:
        return Assessment()
    asked_script, answered_script = _script(asked), _script(answered)
    both_latin = asked_script == answered_script == "LATIN"
    if both_latin and min(_english_share(asked), _english_share(answered)) >= config.english_share_floor:
        return Assessment(scores={"language_match": 1.0})
    if _capitalised_share(answered) > config.language_max_capitalised_share or _is_item_list(answered):
        return Assessment()  # names and items ("Les 400 Coups", "gouda, brie"): their language is not the answer's
    if asked_script != answered_script:
        return _mismatch(sample, config, guesser, f"{asked_script.lower()} script asked, {answered_script.lower()} answered")
    guesser = guesser or shared_guesser(config.language_seed)
    asked_lang, answered_lang = guesser.guess(asked), guesser.guess(answered)
    if asked_lang is None or answered_lang is None:
        return Assessment()
    if min(asked_lang[1], answered_lang[1]) < config.language_min_probability:
        return Assessment()
    if asked_lang[0] == answered_lang[0]:
        return Assessment(scores={"language_match": 1.0})
    return _mismatch(sample, config, guesser, f"asked in {asked_lang[0]}, answered in {answered_lang[0]}")


def _mismatch(sample: Sample, config: HeuristicConfig, guesser: LanguageGuesser | None, detail: str) -> Assessment:
    # The answer may rightly follow the input's language ("correct this German sentence").
    payload = input_payload(sample)
    if payload and _size(prose(payload)) >= config.language_min_instruction_words:
        guesser = guesser or shared_guesser(config.language_seed)
        given, answered = guesser.guess(prose(payload)), guesser.guess(prose(sample.response))
        if given and answered and given[0] == answered[0]:
            return Assessment(scores={"language_match": 1.0})
    return drop("wrong_language", detail, language_match=0.0)


def _size(text: str) -> int:
    """Words of two letters or more, counting two characters of a spaceless script as one word.

    Single letters ("C D D E", "T F T") are symbols, and carry no sign of a language.
    """
    if text.isascii():  # no spaceless-script characters to count or blank out: the common case, twice as fast
        return len([w for w in words(text) if len(w) > 1 and not w.isdigit()])  # a list counts faster than sum()
    spaceless = len(SPACELESS_CHAR.findall(text))
    spaced = [w for w in words(SPACELESS_CHAR.sub(" ", text)) if len(w) > 1 and not w.isdigit()]
    return len(spaced) + spaceless // 2


def _script(text: str) -> str:
    """The script most of the letters are written in (LATIN, CYRILLIC, CJK, ...)."""
    if text.isascii():  # every letter is LATIN: skip the per-character script lookup, and the count
        return "LATIN" if ASCII_LETTER.search(text) else "NONE"
    ascii_letters = len(ASCII_LETTER.findall(text))
    counts = Counter(_char_script(c) for c in NON_ASCII_LETTER.findall(text))
    counts["LATIN"] += ascii_letters
    script, count = counts.most_common(1)[0]
    return script if count else "NONE"


@lru_cache(maxsize=8192)
def _char_script(char: str) -> str:
    script = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    # Japanese mixes kana and kanji within one sentence: one script family for our purpose.
    return "CJK" if script in JAPANESE_SCRIPTS else script


def _english_share(text: str) -> float:
    tokens = words(text)
    return len([t for t in tokens if t in ENGLISH_COMMON]) / len(tokens) if tokens else 0.0


def _capitalised_share(text: str) -> float:
    tokens = [w for w in re.findall(r"[^\W\d_]+", text) if len(w) > 1]
    return sum(1 for t in tokens if t[0].isupper()) / len(tokens) if tokens else 0.0


def _is_item_list(text: str) -> bool:
    """True when the text is a list of short items rather than sentences."""
    segments = [seg for seg in ITEM_SEPARATOR.split(text) if words(seg)]
    lengths = sorted(len(words(seg)) for seg in segments)
    return len(lengths) >= 3 and lengths[len(lengths) // 2] <= 3
