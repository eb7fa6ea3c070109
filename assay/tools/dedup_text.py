"""Text normalisation shared by the dedup methods and the instruction-aware check."""

from __future__ import annotations

import string
import unicodedata

_EDGE_PUNCTUATION = string.punctuation + string.whitespace + "“”‘’«»…–—¿¡"


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed to single spaces, punctuation stripped at both ends."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split()).strip(_EDGE_PUNCTUATION)
