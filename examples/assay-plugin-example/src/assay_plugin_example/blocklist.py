"""A filter plugin: drop samples whose instruction or response contains a blocked word."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assay.core.assessment import KEEP, Assessment, drop
from assay.core.records import Sample


class Blocklist:
    """Constructed with the recipe's `[plugins.settings.blocklist]`: `words` (required) and `case_sensitive`."""

    def __init__(self, words: Sequence[str], case_sensitive: bool = False) -> None:
        if not words:
            raise ValueError("give at least one word to block: words = [\"...\"]")
        flags = 0 if case_sensitive else re.IGNORECASE
        self.words = list(words)
        self.pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in self.words) + r")\b", flags)

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """Keep, or drop with the reason `blocked_word:<word>`."""
        verdicts = []
        for sample in batch:
            found = self.pattern.search(sample.text())
            if found is None:
                verdicts.append(KEEP)
            else:
                word = found.group(1).lower()
                verdicts.append(drop(f"blocked_word:{word}", f"the text contains the blocked word {word!r}"))
        return verdicts
