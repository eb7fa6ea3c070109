"""The heuristics tokenize each text once: `words` is cached and its value immutable."""

from __future__ import annotations

from assay.tools.heuristics_language import _script, _size
from assay.tools.heuristics_text import words


def test_words_are_computed_once_per_text_and_cannot_be_mutated() -> None:
    text = "Hello, world! It's a TEST of 3 words’ worth."
    first = words(text)
    assert first == ("hello", "world", "it's", "a", "test", "of", "3", "words", "worth")
    assert words(text) is first  # the second filter asking gets the cached tokens
    assert isinstance(first, tuple)  # shared between filters: a list could be changed under the others


def test_ascii_and_non_ascii_texts_measure_alike() -> None:
    # The ASCII fast paths give what the general path gives on the same words.
    assert _size("a bb cc 12 dd") == _size("a bb cc 12 dd \u00e9") - 0 == 3
    assert _script("plain words") == "LATIN" and _script("123 456") == "NONE"
    assert _script("plain words \u00e9t\u00e9") == "LATIN"
    assert _script("\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440 ok") == "CYRILLIC"
    assert _size("\u4f60\u597d\u4e16\u754c ab") == 3  # four spaceless characters count as two words
