"""One wave of an expansion, the services: synthesize the wave's jobs, screen, judge, keep or reject.

Each step returns what it decided (rejections with their reasons, the decisions to trace)
instead of writing it, so the subgraph (`assay.graphs.expansion`) carries a wave's outcome
from step to step; `settle_wave` traces the whole wave's decisions in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assay.agents.judge import JudgeVerdict
from assay.agents.synthesizer import Candidate, HopJob, synthesize_candidate
from assay.core.concurrency import gather_cancelling
from assay.core.errors import BudgetExhausted
from assay.core.records import Sample
from assay.llm.gateway import LLMResult
from assay.pipeline.expand.steps import AGENT, ExpandOptions, ExpansionAgents, Parent
from assay.pipeline.expand.report import KeptSample, Rejection
from assay.pipeline.screen.candidates import CandidateScreen
from assay.trace.log import Decision, Trace

JudgeOutcome = LLMResult[JudgeVerdict] | str  # a verdict, or the message of the budget that stopped it


@dataclass
class WaveStep:
    """What one step of a wave decided: the candidates going on, the rejected ones, the decisions to trace."""

    going_on: list[Candidate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    budget_spent: str | None = None  # the budget ran out during the step: the run stops after the wave

    def reject(self, c: Candidate, reason: str, detail: str | None = None, call_ids: Sequence[int] | None = None,
               overall: float | None = None, *, round: int | None) -> None:
        """Reject `c` for `reason` (the trace's reason adds the detail)."""
        self.rejected.append(Rejection(reason, c.job.op, c.job.hop, c.job.seed.id, c.sample))
        full = f"{reason} ({detail})" if detail else reason
        self.decisions.append(decision(c, "synth_rejected", full, call_ids if call_ids is not None else c.call_ids,
                                       overall, round))


@dataclass(frozen=True)
class WaveEnd:
    """A settled wave: the samples kept, the rejections, and the parents of the next hops."""

    kept: list[KeptSample]
    rejected: list[Rejection]
    parents: list[Parent]
    budget_spent: str | None = None


async def synthesize_wave(agents: ExpansionAgents, options: ExpandOptions, request: str,
                          wave: Sequence[HopJob]) -> WaveStep:
    """Write a candidate per job; failed ones and copies of another candidate of the wave are rejected."""
    outcomes = await gather_cancelling((
        synthesize_candidate(agents.synthesizer, job, request=request, min_relevance=options.synth.min_relevance)
        for job in wave), settle=(BudgetExhausted,))
    step, round = WaveStep(), agents.synthesizer.round
    for job, outcome in zip(wave, outcomes, strict=True):
        if isinstance(outcome, BaseException):  # only a spent budget is settled; anything else was raised
            step.budget_spent = str(outcome)
            outcome = Candidate(job, rejection=f"failed:budget: {outcome}")
        c = outcome
        if not c.ok:
            step.reject(c, c.rejection or "failed", round=round)
        elif (twin := next((a for a in step.going_on if a.sample.id == c.sample.id), None)) is not None:
            # Two jobs wrote the very same sample: screening sees one id, so the copy goes here.
            step.reject(c, f"duplicate_of:{twin.sample.id}", "identical to another candidate", round=round)
        else:
            step.going_on.append(c)
    return step


def screen_wave(screen: CandidateScreen, alive: Sequence[Candidate], round: int | None) -> WaveStep:
    """Heuristics, decontamination and dedup against the pool; the ones passing go on to the judge."""
    step = WaveStep()
    screened = screen([c.sample for c in alive]) if alive else None
    for c in alive:
        outcome = screened.outcomes[c.sample.id]
        if outcome.keep:
            step.going_on.append(c)
        else:
            step.reject(c, outcome.reason or "dropped", outcome.detail, round=round)
    return step


async def judge_wave(agents: ExpansionAgents, options: ExpandOptions, passed: Sequence[Candidate]) -> list[JudgeOutcome]:
    """The judge's verdict on each screened candidate, in order (a spent budget in place of some)."""
    verdicts = await gather_cancelling((agents.judge_fn(agents.judge, c.sample, options.rubric) for c in passed),
                                       settle=(BudgetExhausted,))
    return [str(v) if isinstance(v, BaseException) else v for v in verdicts]


def settle_wave(screen: CandidateScreen, trace: Trace, options: ExpandOptions, passed: Sequence[Candidate],
                verdicts: Sequence[JudgeOutcome], earlier: Sequence[Decision], *, kept_before: int,
                round: int | None) -> WaveEnd:
    """Keep the candidates the judge passed until `n` are kept, trace the wave, queue the next hops.

    The kept samples join the screen's dedup reference; every screened candidate, kept or
    not, is a parent of the next hop while the hops last.
    """
    step, kept, kept_now = WaveStep(decisions=list(earlier)), [], []
    for c, verdict in zip(passed, verdicts, strict=True):
        if isinstance(verdict, str):
            step.budget_spent = verdict
            step.reject(c, f"failed:budget: {verdict}", round=round)
            continue
        call_ids = [*c.call_ids, *verdict.call_ids]
        if verdict.value is None:
            step.reject(c, f"failed:judge: {verdict.error}", call_ids=call_ids, round=round)
            continue
        overall = verdict.value.overall
        if overall < options.min_quality:
            step.reject(c, f"low_quality:{overall:g}", call_ids=call_ids, overall=overall, round=round)
        elif kept_before + len(kept) >= options.n:
            step.reject(c, "surplus", "the run already kept n samples", call_ids, overall, round=round)
        else:
            kept.append(_kept(c, overall))
            kept_now.append(kept[-1].sample)
            step.decisions.append(decision(c, "synth_kept", None, call_ids, overall, round))
    screen.accept(kept_now)
    trace.decisions(step.decisions)
    deepest = max(options.synth.depth, options.synth.persona_depth)
    parents = [(c.job.seed, c.sample, c.job.hop + 1) for c in passed if c.job.hop < deepest]
    return WaveEnd(kept, step.rejected, parents, step.budget_spent)


def _kept(c: Candidate, overall: float) -> KeptSample:
    sample: Sample = c.sample.model_copy(update={"scores": {**c.sample.scores, "judge_overall": overall}})
    return KeptSample(sample, c.job.seed.id, c.job.topic, tuple(sample.tags.get("attribute", [])), c.job.op, c.job.hop,
                      c.relevance, overall)


def decision(c: Candidate, action: str, reason: str | None, call_ids: Sequence[int], overall: float | None,
             round: int | None) -> Decision:
    """The trace row of a candidate's outcome, with its relevance and judge scores."""
    scores = {"relevance": float(c.relevance)} if c.relevance is not None else {}
    if overall is not None:
        scores["judge_overall"] = overall
    sample_id = c.sample.id if c.sample is not None else None
    return Decision(sample_id, AGENT, action, reason, scores, list(call_ids), round)
