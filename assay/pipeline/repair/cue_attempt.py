"""One bias-cue repair attempt: ask the rewriter to remove the cues, then check the rewrite.

A rewrite is kept only if all of these hold, checked cheapest first (a failed check spends no
more calls):
  (a) the cue is gone: `Cue.present` is False on the rewrite for every cue asked about;
  (c1) the meaning is kept by embedding: cosine(original without the cue's spans, rewrite) >= `min_cosine`;
  (b) the pairwise judge finds the rewrite at least as good in BOTH orders (a tie or a win each time);
  (c2) the claims are kept: the original's atomic claims, verified with the rewrite as the only
      passage, are supported at a share >= `min_claims_kept` (no claims: nothing to lose).
Every attempt ends in one trace decision on the original sample (agent `cue_repair`), kept or
dropped with its reason and every number measured so far.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.core.bias_cue import Cue
from assay.core.records import Sample
from assay.core.recipe_cues import CueSettings

AGENT = "cue_repair"
# Why an attempt was not kept; `kept` when it was. The CLI counts attempts by these.
REASONS = ("kept", "rewrite_failed", "no_change", "cue_kept", "low_cosine", "judge_failed", "judge_prefers_original",
           "claims_failed", "claims_dropped")
EmbedFn = Callable[[list[str]], Any]  # texts -> rows of vectors


@dataclass(frozen=True)
class CueAgents:
    """The agent contexts an attempt uses, and the embedder for the cosine."""

    rewriter: Any
    judge: Any
    decomposer: Any
    verifier: Any
    embed: EmbedFn
    rubric: tuple[Any, ...] = ()  # shown to the pairwise judge: the recipe's own rubric, else none (the plain prompt)


@dataclass(frozen=True)
class CueAttempt:
    """What became of one attempt: kept or the reason it was dropped, with its numbers."""

    sample_id: str
    cues: tuple[str, ...]  # the cue keys asked about
    reason: str  # one of REASONS
    rewritten: Sample | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    changes: tuple[str, ...] = ()

    @property
    def kept(self) -> bool:
        """Whether the rewrite passed every check."""
        return self.reason == "kept"


def cue_issues(sample: Sample, cues: Sequence[Cue]) -> list[Any]:
    """The cues as the rewriter's issues: type spurious_cue, the exact text and its character spans."""
    from assay.agents.judge import Issue

    issues = []
    for cue in cues:
        spans = cue.spans(sample.response)
        found = "; ".join(f"{a}-{b}: {sample.response[a:b]!r}" for a, b in spans[:4]) or "throughout"
        issues.append(Issue(type="spurious_cue", where=f"response, characters {found}",
                            fix=f"remove the {cue.kind} cue {cue.text!r} (it carries no content); keep everything else"))
    return issues


def without_cues(text: str, cues: Sequence[Cue]) -> str:
    """The text with every span of `cues` cut out, whitespace around the cuts closed up."""
    import re

    spans = sorted(span for cue in cues for span in cue.spans(text))
    kept, at = [], 0
    for start, end in spans:
        if start >= at:
            kept.append(text[at:start])
            at = end
        else:
            at = max(at, end)
    kept.append(text[at:])
    return re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()


def cosine(embed: EmbedFn, a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings."""
    import numpy as np

    vectors = np.asarray(embed([a, b]), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    if not norms.all():
        return 0.0
    return float(vectors[0] @ vectors[1] / (norms[0] * norms[1]))


async def attempt(agents: CueAgents, sample: Sample, cues: Sequence[Cue], settings: CueSettings, *,
                  round: int | None, trace: Any) -> CueAttempt:
    """Rewrite `sample` without `cues`, run the checks, and trace one decision with the numbers."""
    from assay.agents.judge import conversation_parts, judge_pair
    from assay.agents.rewriter import apply_rewrite, rewrite_sample

    keys = tuple(c.key() for c in cues)
    numbers: dict[str, Any] = {"cues": list(keys)}
    calls: list[int] = []

    def done(reason: str, rewritten: Sample | None = None, changes: Sequence[str] = ()) -> CueAttempt:
        action = "cue_rewrite_kept" if reason == "kept" else "cue_rewrite_dropped"
        target = f" {rewritten.id}" if rewritten is not None else ""
        trace.decision(sample.id, AGENT, action, reason=f"{reason}: rewrite{target} {json.dumps(numbers)}",
                       call_ids=calls, round=round)
        return CueAttempt(sample.id, keys, reason, rewritten, dict(numbers), tuple(changes))

    written = await rewrite_sample(agents.rewriter, sample, cue_issues(sample, cues))
    calls += written.call_ids
    if written.value is None:
        numbers["error"] = written.error
        return done("rewrite_failed")
    rewritten = apply_rewrite(sample, written.value)
    changes = written.value.changes
    if rewritten.messages == sample.messages:
        return done("no_change")
    left = [c.key() for c in cues if c.present(rewritten.response)]
    numbers["cues_left"] = left
    if left:  # (a)
        return done("cue_kept", rewritten, changes)
    # Against the original with the cue cut out: the cue is meant to go, so only other change counts
    # as drift (a six-word opener alone moves a short answer's MiniLM cosine to about 0.8).
    numbers["cosine"] = round_to(cosine(agents.embed, without_cues(sample.response, cues), rewritten.response))
    numbers["min_cosine"] = settings.min_cosine
    if numbers["cosine"] < settings.min_cosine:  # (c) by embedding
        return done("low_cosine", rewritten, changes)
    instruction = conversation_parts(sample)["instruction"]
    pairwise = await judge_pair(agents.judge, instruction, sample.response, rewritten.response,
                                sample_ids=(sample.id, rewritten.id), rubric=agents.rubric)
    calls += pairwise.call_ids
    if not pairwise.ok:
        numbers["error"] = pairwise.error
        return done("judge_failed", rewritten, changes)
    named = {"a": "original", "b": "rewrite", "tie": "tie"}
    orders = (named[pairwise.first_order.winner], named[pairwise.second_order_winner])
    numbers["judge"] = {"original_first": orders[0], "rewrite_first": orders[1]}
    if "original" in orders:  # (b): a tie or a win in each order
        return done("judge_prefers_original", rewritten, changes)
    share, error = await claims_kept(agents, sample, rewritten, instruction, calls)
    numbers["claims_kept"] = share if share is None else round_to(share)
    numbers["min_claims_kept"] = settings.min_claims_kept
    if error is not None:
        numbers["error"] = error
        return done("claims_failed", rewritten, changes)
    if share is not None and share < settings.min_claims_kept:  # (c) by claims
        return done("claims_dropped", rewritten, changes)
    return done("kept", rewritten, changes)


async def claims_kept(agents: CueAgents, original: Sample, rewritten: Sample, instruction: str,
                      calls: list[int]) -> tuple[float | None, str | None]:
    """Share of the original's claims supported by the rewrite (None: the original makes no claim), or an error."""
    from assay.agents.decomposer import extract_claims
    from assay.agents.verifier import verify_claims

    extracted = await extract_claims(agents.decomposer, original)
    calls += extracted.call_ids
    if extracted.value is None:
        return None, f"claim extraction failed: {extracted.error}"
    claims = list(extracted.value.claims)
    if not claims:
        return None, None
    # The rewrite is the only passage: "judge by the passages alone" makes a claim it dropped unverifiable.
    verified = await verify_claims(agents.verifier, claims, context=instruction, passages=[rewritten.response],
                                   sample_ids=[original.id, rewritten.id])
    calls += verified.call_ids
    if not verified.ok:
        return None, f"claim verification failed: {verified.error}"
    return verified.factuality, None


def round_to(value: float, places: int = 4) -> float:
    """A number as the trace stores it."""
    return round(float(value), places)
