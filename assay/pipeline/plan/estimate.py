"""Expected gap closed per LLM call, for a round of repair and for a round of expansion.

The policy (plan/policy.py) picks the action whose round closes more of the unmet targets'
gaps per call. Each estimate is plain arithmetic on the measurement:

- repair: the batch x the repair acceptance rate gives the rewrites that land. Only where a
  quality floor is set do they add *qualifying* samples (a sample under the floor does not
  count toward the size; without a floor every judged sample already does). Each landed
  rewrite also lifts a low score to the bar the recipe sets, which raises the export's mean.
- expand: the candidates x the keep rate gives the new samples; each counts toward the size,
  enters the best-N export (displacing its weakest when the export is full) and fills the
  under-covered clusters or topics.

Rates come from the session's rounds when there are any, shrunk toward a prior so that one
lucky round does not decide the next ten; with no history the prior stands alone. Each
target's gain is normalised by its own gap (a share between 0 and 1), so a size gap of 63 and
a mean gap of 0.3 weigh the same when fully closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PRIOR_REPAIR_ACCEPT = 0.5  # a rewrite aimed at named issues, kept only if preferred in both orders
PRIOR_EXPAND_KEEP = 0.5  # a synthesized candidate that survives screening and the judge
PRIOR_WEIGHT = 4.0  # the prior counts as this many attempts: one failed repair alone does not condemn repair
CALLS_PER_REPAIR = 4  # rewrite, the pairwise judge in both orders, the applied rewrite's judgement
CALLS_PER_CANDIDATE = 5  # evolve, respond, reflect, judge, and a share of attribute extraction / improvement


@dataclass(frozen=True)
class Observed:
    """What earlier rounds did: repairs tried and accepted, candidates judged and kept."""

    repair_tried: int = 0
    repair_accepted: int = 0
    expand_tried: int = 0
    expand_kept: int = 0


@dataclass(frozen=True)
class Estimate:
    """One action's expected effect for one round, and its cost in LLM calls."""

    action: str
    n: int  # samples it works on
    rate: float  # share expected to land (accepted rewrites, kept candidates)
    rate_from: str  # "history" or "prior"
    qualifying: float  # samples that newly qualify toward the size
    mean_gain: float  # rise of the projected export's mean quality
    coverage_gain: float  # samples added to under-covered clusters or topics
    gain: float  # sum over unmet targets of the share of each gap closed
    calls: int

    @property
    def per_call(self) -> float:
        """Gap closed per LLM call (0 when the action costs nothing because it does nothing)."""
        return self.gain / self.calls if self.calls else 0.0

    def describe(self) -> str:
        """The numbers as the rationale shows them."""
        parts = [f"+{self.qualifying:.1f} qualifying"]
        if self.mean_gain:
            parts.append(f"mean +{self.mean_gain:.2f}")
        if self.coverage_gain:
            parts.append(f"+{self.coverage_gain:.1f} in thin clusters/topics")
        return (f"{self.action}: {', '.join(parts)} for {self.calls} calls "
                f"({self.n} x {self.rate:.2f} {self.rate_from} rate; {self.gain:.2f} of the gap)")


def rate(tried: int, landed: int, prior: float) -> tuple[float, str]:
    """The observed rate shrunk toward the prior (PRIOR_WEIGHT pseudo-attempts), or the prior alone."""
    if tried <= 0:
        return prior, "prior"
    return (landed + prior * PRIOR_WEIGHT) / (tried + PRIOR_WEIGHT), "history"


def observed_from(outcomes: Sequence[Mapping[str, Any]]) -> Observed:
    """Sum the rounds' outcomes ({"repair": {attempted, accepted}, "expand": {kept, rejected}})."""
    r_tried = r_acc = e_tried = e_kept = 0
    for outcome in outcomes:
        repair, expand = outcome.get("repair") or {}, outcome.get("expand") or {}
        r_tried += int(repair.get("attempted", 0))
        r_acc += int(repair.get("accepted", 0))
        e_kept += int(expand.get("kept", 0))
        e_tried += int(expand.get("kept", 0)) + int(expand.get("rejected", 0))
    return Observed(r_tried, r_acc, e_tried, e_kept)


@dataclass(frozen=True)
class Gaps:
    """The unmet targets, in the units the estimates use."""

    size: float | None  # samples still needed, None when size is met or not a target
    mean: float | None  # score points the export mean lacks
    floor: bool  # the quality floor is unmet
    coverage: float | None  # samples the thin clusters or topics lack
    bar: float  # the score a landed rewrite or kept candidate is expected to reach
    export_size: float
    export_full: bool
    export_mean: float | None
    export_min: float | None


def _entry_gain(g: Gaps) -> float:
    """The export mean's rise from one new sample scoring at the bar."""
    if g.export_mean is None or g.export_size <= 0:
        return 0.0
    if g.export_full:  # it displaces the weakest of the best N
        return max(0.0, g.bar - (g.export_min or 0.0)) / g.export_size
    return max(0.0, g.bar - g.export_mean) / (g.export_size + 1)


def _share(gaps: Gaps, qualifying: float, mean_gain: float, coverage_gain: float, *, floor: bool) -> float:
    """Sum over the unmet targets of the share of each gap this effect closes (`floor`: it counts for the floor)."""
    total = 0.0
    if gaps.size:
        total += min(qualifying, gaps.size) / gaps.size
    if gaps.mean:
        # An empty export has no mean yet: its first qualifying samples give it one, at the bar.
        total += min(1.0, qualifying) if gaps.export_mean is None else min(1.0, mean_gain / gaps.mean)
    if gaps.floor and floor:
        total += min(1.0, qualifying)
    if gaps.coverage:
        total += min(coverage_gain, gaps.coverage) / gaps.coverage
    return total


def estimate_repair(gaps: Gaps, scores: Sequence[float], floor: float | None, observed: Observed) -> Estimate:
    """A round repairing `scores` (the batch's current scores, worst first)."""
    p, source = rate(observed.repair_tried, observed.repair_accepted, PRIOR_REPAIR_ACCEPT)
    below = [q for q in scores if floor is not None and q < floor]
    qualifying = p * len(below)
    lift = 0.0
    for q in scores:
        if floor is not None and q < floor:  # outside the export now: it enters it
            lift += _entry_gain(gaps)
        elif gaps.export_size > 0:  # inside the export: its score rises to the bar
            lift += max(0.0, gaps.bar - q) / gaps.export_size
    mean_gain = p * lift
    gain = _share(gaps, qualifying, mean_gain, 0.0, floor=True)
    return Estimate("repair", len(scores), p, source, qualifying, mean_gain, 0.0, gain, CALLS_PER_REPAIR * len(scores))


def estimate_expand(gaps: Gaps, n: int, covers: bool, observed: Observed) -> Estimate:
    """A round synthesizing `n` candidates (`covers`: aimed at thin clusters or topics)."""
    p, source = rate(observed.expand_tried, observed.expand_kept, PRIOR_EXPAND_KEEP)
    kept = p * n
    mean_gain = kept * _entry_gain(gaps)
    coverage = kept if covers else 0.0
    # Expansion is not aimed at the floor (see policy.allowed_actions): it is never credited for it.
    gain = _share(gaps, kept, mean_gain, coverage, floor=False)
    return Estimate("expand", n, p, source, kept, mean_gain, coverage, gain, CALLS_PER_CANDIDATE * n)
