"""The analyzer's reference facts: which recipe threshold each score is held to, and what each reason code means.

The thresholds come from the recipe's `[screen]` section the file was scored with, so a
changed threshold moves the mark on its histogram. Only a filter that is switched on marks
its threshold. The explanations of the heuristic codes are the recipe sections' own
docstrings (`assay/core/recipe_screen.py`), so the page and `assay recipe show` say the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.core.recipe_screen import HeuristicSettings, ScreenSettings
from assay.pipeline.screen.scored_output import reason_family


@dataclass(frozen=True)
class Threshold:
    """A recipe threshold on one score: a sample whose score `rule`s `value` is dropped (`rule`: ">" or "≥")."""

    value: float
    rule: str
    key: str  # the recipe key that sets it
    note: str = ""  # a condition the drop also needs


# Reason codes that are not heuristic filters: what they mean.
OTHER_REASONS = {
    "duplicate_of": "Repeats an earlier sample: an exact copy, a near duplicate (MinHash) or a semantic duplicate "
                    "(embeddings), by the --dedup methods. The first copy stays active; the reason names it.",
    "contaminated": "Overlaps an item of a benchmark given with --decontam (shared word n-grams or a close "
                    "embedding). The reason names the benchmark and the item.",
    "high_ifd": "Instruction-following difficulty above the limit: the instruction does not make the answer "
                "easier to predict.",
}


def reason_code(reason: str | None) -> str:
    """The code a drop is counted under: `duplicate_of:<id>` as `duplicate_of`, `contaminated:<bench>:<item>`
    as `contaminated:<bench>` (the same families as `assay score`'s table)."""
    return reason_family(reason)


def explain(code: str) -> str | None:
    """A sentence on what a reason code means, or None for a code assay does not know (a plugin's)."""
    head = code.partition(":")[0]
    section = HeuristicSettings.model_fields.get(head)
    if section is not None and section.annotation is not None and section.annotation.__doc__:
        return section.annotation.__doc__.strip().replace("`", "")  # markdown quoting means nothing on the page
    return OTHER_REASONS.get(head)


def thresholds(screen: ScreenSettings) -> dict[str, Threshold]:
    """Score name -> the threshold the recipe drops it at, for the filters switched on."""
    found: dict[str, Threshold] = {}
    repetition, length = screen.heuristics.repetition, screen.heuristics.length_outlier
    prefix = "screen.heuristics"
    if repetition.enabled:
        found["repetition_ratio"] = Threshold(repetition.max_ratio, "≥", f"{prefix}.repetition.max_ratio",
                                              f"with at least {repetition.min_ngrams} word 3-grams")
        found["max_sentence_repeats"] = Threshold(repetition.max_sentence_repeats, "≥",
                                                  f"{prefix}.repetition.max_sentence_repeats", "in a row")
    if length.enabled:
        found["response_words"] = Threshold(length.max_response_words, ">", f"{prefix}.length_outlier.max_response_words")
        found["response_chars"] = Threshold(length.max_response_chars, ">", f"{prefix}.length_outlier.max_response_chars")
    found["contamination_cosine"] = Threshold(screen.decontam.cosine_threshold, "≥", "screen.decontam.cosine_threshold")
    return found
