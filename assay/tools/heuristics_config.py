"""Thresholds of the heuristic filters, in one frozen dataclass with tested defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeuristicConfig:
    """Every tunable number of the heuristic screen.

    The defaults were set on the hand-written examples and checked against 5,000 Alpaca
    samples (evals/eval_defects.py): each filter drops a small share there. Users set them in
    the recipe's [screen.heuristics.<filter>] tables (assay/core/recipe_screen.py, mapped here by
    assay/pipeline/screen/scoring.py), whose defaults must equal these (tests/test_recipe.py).
    """

    # repetition: share of duplicate word 3-grams, and how often one sentence may recur
    repetition_min_ngrams: int = 12  # fewer 3-grams than this: too short to judge
    repetition_max_ratio: float = 0.6  # templated list answers reach ~0.55
    repetition_max_sentence_repeats: int = 3  # a sentence said this often in a row, or ...
    repetition_sentence_share: float = 0.66  # ... this often and over this share of all sentences (a refrain is less)
    # truncated: a prose line cut after several complete sentences
    truncated_min_words: int = 3  # shorter answers ("New York") may end on anything
    # length_outlier
    long_form_min_words: int = 4  # "Explain/describe/write an essay" answered in fewer words
    max_response_words: int = 4000
    max_response_chars: int = 40_000
    # wrong_language: only judged when both sides are long enough to be reliable
    language_min_instruction_words: int = 5
    language_min_response_words: int = 15
    language_min_probability: float = 0.9
    language_max_capitalised_share: float = 0.5  # above: a list of names, not prose
    language_seed: int = 0
    english_share_floor: float = 0.12  # above: clearly English; fast path without a detector
