"""Heuristic screen: the cheap, LLM-free filters that look at every sample before any LLM is paid.

Each filter is a plain function `filter(sample, config) -> Assessment` that can be used on
its own; `HeuristicScreen` runs them all over a batch and returns one Assessment per
sample, whose reason is the first failing filter in order of severity and whose scores
merge every filter's scores. Reason codes:

    empty_output, url_only_input, refusal, merged_instructions, repetition, truncated,
    wrong_language, length_outlier
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assay.core.records import Sample
from assay.core.assessment import Assessment
from assay.tools.heuristics_config import HeuristicConfig
from assay.tools.heuristics_language import LanguageGuesser, shared_guesser, wrong_language
from assay.tools.heuristics_output import empty_output, length_outlier, repetition, truncated
from assay.tools.heuristics_prompt import merged_instructions, url_only_input
from assay.tools.heuristics_refusal import refusal

Filter = Callable[[Sample, HeuristicConfig], Assessment]

# Most severe first: when a sample fails several, the reason names the root problem (a
# looping answer is usually also cut off; a run-on record usually ends mid-sentence).
FILTERS: dict[str, Filter] = {
    "empty_output": empty_output,
    "url_only_input": url_only_input,
    "refusal": refusal,
    "merged_instructions": merged_instructions,
    "repetition": repetition,
    "truncated": truncated,
    "wrong_language": wrong_language,
    "length_outlier": length_outlier,
}

__all__ = [
    "FILTERS",
    "HeuristicConfig",
    "HeuristicScreen",
    "LanguageGuesser",
    "empty_output",
    "length_outlier",
    "merged_instructions",
    "refusal",
    "repetition",
    "screen_heuristics",
    "truncated",
    "url_only_input",
    "wrong_language",
]


class HeuristicScreen:
    """Batch tool running the heuristic filters; `only` picks a subset by reason code."""

    name = "heuristics"

    def __init__(self, config: HeuristicConfig | None = None, only: Sequence[str] | None = None) -> None:
        self.config = config or HeuristicConfig()
        unknown = set(only or ()) - set(FILTERS)
        if unknown:
            raise ValueError(f"unknown heuristic filter(s): {', '.join(sorted(unknown))}; known: {', '.join(FILTERS)}")
        self.filters = [(name, check) for name, check in FILTERS.items() if only is None or name in only]

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """One Assessment per sample, in order."""
        if any(name == "wrong_language" for name, _ in self.filters):
            shared_guesser(self.config.language_seed)  # load the profiles once, before the loop
        return [self.assess(sample) for sample in batch]

    def assess(self, sample: Sample) -> Assessment:
        """Run every filter on one sample: the first failure gives the reason, all give scores."""
        scores: dict[str, float] = {}
        first_failure: Assessment | None = None
        for _, check in self.filters:
            verdict = check(sample, self.config)
            scores.update(verdict.scores)
            if not verdict.keep and first_failure is None:
                first_failure = verdict
        if first_failure is None:
            return Assessment(scores=scores)
        return Assessment(keep=False, reason=first_failure.reason, detail=first_failure.detail, scores=scores)


def screen_heuristics(batch: Sequence[Sample], config: HeuristicConfig | None = None) -> list[Assessment]:
    """Run all heuristic filters over a batch (see `HeuristicScreen`)."""
    return HeuristicScreen(config)(batch)
