"""The readings of a text that the injection detector searches: evasions undone before matching.

An injection written to get past a pattern hides its words: invisible characters inside them,
look-alike letters from other scripts, full-width or mathematical letters, accents, letters
spaced out or written in leetspeak, or the whole sentence encoded (base64, rot13, %-escapes,
HTML entities). Each view undoes some of that; the detector matches every view.

- `script` view: NFKC, invisible characters removed, lower-cased. Non-Latin patterns (ru, zh,
  ja, ko) match here, since folding would destroy their letters.
- `latin` view: the script view with look-alikes folded to ASCII letters and accents stripped.
  Latin-script patterns (en, es, fr, de, pt, it) are written for it, without accents.
- decoded views: embedded base64 and hex spans, text hidden in Unicode tag characters, the text
  reversed, rot13 of the whole text, %-escapes and HTML entities,
  leetspeak digits, letters spaced out; each read as a script and a latin view again.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from urllib.parse import unquote

# Zero-width and other invisible format characters, soft hyphen, variation selectors, tag characters.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]")
# Letters from Cyrillic, Greek, Armenian and IPA that look like Latin ones (after NFKC).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h",
    "ь": "b", "ɡ": "g", "ɑ": "a", "ɩ": "i", "ɪ": "i", "ʏ": "y", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "η": "n", "ω": "w", "ո": "n", "ս": "u", "օ": "o",
    "ց": "g", "һ": "h", "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"})
_LEET_WORD = re.compile(r"(?<![\w@$|!])(?=[\w@$|!]*[a-z])(?=[\w@$|!]*[013457@$|!])[\w@$|!]{3,}")
_BASE64_SPAN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_SPAN = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}){12,}(?![0-9a-fA-F])")
_SPACED = re.compile(r"(?<!\w)(?:\w[ .\-_*·]{1,2}){3,}\w(?!\w)")
_ESCAPED = re.compile(r"%[0-9a-fA-F]{2}|&#x?[0-9a-fA-F]+;|&[a-z]+;|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}")
_TAG_CHAR = re.compile("[\U000e0020-\U000e007e]")
MAX_DECODED = 8  # base64 spans decoded per text: enough for any real sample, bounded for a hostile one


def script_view(text: str) -> str:
    """NFKC (full-width, mathematical and ligature letters to plain ones), invisible characters removed, lower case."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))).casefold()


def latin_view(script: str) -> str:
    """A script view with look-alike letters folded to Latin and accents stripped."""
    if script.isascii():  # no look-alikes, nothing to decompose, no accents: most samples, and the slow part below
        return script
    return script.translate(_FOLD)


def _fold(char: str) -> str:
    """One character with its look-alike folded, decomposed (NFKD) and its combining marks (accents) dropped."""
    folded = unicodedata.normalize("NFKD", char.translate(_CONFUSABLES))
    return "".join(c for c in folded if not unicodedata.combining(c))


class _FoldTable(dict[int, str]):
    """`_fold` as a `str.translate` table, filled per character on first sight: one C-level lookup per character.

    Folding a string character by character gives what folding it whole gives: NFKD decomposes each character
    on its own, and the reordering it does moves only combining marks, which are all dropped."""

    def __missing__(self, code: int) -> str:
        self[code] = folded = _fold(chr(code))
        return folded


_FOLD = _FoldTable()


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() or c.isspace() for c in text)
    return text if text and letters / len(text) > 0.8 else None


def decoded_texts(text: str) -> list[str]:
    """The readings an encoding hides: base64 spans, rot13, %-escapes and entities, leetspeak, spaced letters."""
    found: list[str] = []
    for match in _BASE64_SPAN.findall(text)[:MAX_DECODED]:  # case matters in base64: the text as written
        span = match.replace("-", "+").replace("_", "/")
        try:
            decoded = _printable(base64.b64decode(span + "=" * (-len(span) % 4), validate=True))
        except (binascii.Error, ValueError):
            decoded = None
        if decoded:
            found.append(decoded)
    for match in _HEX_SPAN.findall(text)[:MAX_DECODED]:
        decoded = _printable(bytes.fromhex(match))
        if decoded:
            found.append(decoded)
    tags = "".join(chr(ord(c) - 0xE0000) for c in _TAG_CHAR.findall(text))  # a scan in C, not a loop per character
    if tags:  # "ASCII smuggling": text written in invisible tag characters
        found.append(tags)
    text = script_view(text)  # the other readings start from visible, plain letters
    found.append(text[::-1])
    found.append(codecs.encode(text, "rot13"))
    if _ESCAPED.search(text):
        unescaped = html.unescape(unquote(text))
        found.append(re.sub(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})",
                            lambda m: chr(int(m.group(1) or m.group(2), 16)), unescaped))
    if _LEET_WORD.search(text):  # only the words that mix letters with leet digits: "1gn0re", not "in 2023"
        found.append(_LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text))
    if _SPACED.search(text):
        found.append(_SPACED.sub(lambda m: re.sub(r"[ .\-_*·]", "", m.group(0)), text))
    return found


def views(text: str) -> list[tuple[str, str, bool]]:
    """(script view, latin view, decoded?) for the text and for every decoded reading of it."""
    found: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for n, reading in enumerate([text, *decoded_texts(text)]):
        script = script_view(reading)
        if script not in seen:
            seen.add(script)
            found.append((script, latin_view(script), n > 0))
    return found
