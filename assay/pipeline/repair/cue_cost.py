"""What a bias-cue repair round costs in LLM calls, said with its plan as the policy's rounds say theirs
(pipeline/plan/estimate.py), so `assay run` (a dry run included) shows it before the round starts.

Each carrier tried is one attempt (pipeline/repair/cue_attempt.py): the rewrite, the pairwise judge
in both orders, the claim check (extraction, then verification: one call per 8 claims), and, once
applied, the rewrite's judgement by the loop. A failed check spends no more calls, so the figure is a
bound, not a forecast.
"""

from __future__ import annotations

CALLS_PER_CUE_REPAIR = 6


def cue_repair_calls(attempts: int) -> int:
    """LLM calls of a cue repair round trying `attempts` carriers, at most (an original of over 8 claims
    adds one verification call per 8 more)."""
    return CALLS_PER_CUE_REPAIR * attempts


def describe_cue_repair(attempts: int, carrying: int) -> str:
    """The round's cost as its rationale shows it."""
    return (f"{attempts} of {carrying} carriers to try for {cue_repair_calls(attempts)} calls at most "
            f"({CALLS_PER_CUE_REPAIR} each: rewrite, pairwise judge in both orders, claim extraction and "
            f"verification, judging the applied rewrite)")
