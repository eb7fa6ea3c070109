"""Targeted expansion: seeds → AIDE candidates → elimination → screening → judge → kept or rejected.

Plain async functions over samples, so the CLI (`assay expand`) and a graph node can both
call `expand`. Work proceeds in waves, breadth first: every seed's first hop before any
second hop, and a parent's attributes are only extracted when its jobs are needed, so a
small `n` pays for little more than it keeps. A candidate that passes screening seeds the
next hop even when the judge rejects it (AIDE recurses from every evolved instruction);
eliminated, irrelevant, duplicate and contaminated ones do not. A spent budget stops the
run cleanly: what was kept so far is the result.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from assay.agents.base import AgentContext
from assay.agents.judge import DEFAULT_RUBRIC, Criterion, judge_sample
from assay.agents.synthesizer import (
    PERSONA_OP, Candidate, HopJob, RequestPlan, SynthOptions, plan_hop, plan_request, synthesize_candidate,
)
from assay.core.concurrency import gather_cancelling
from assay.core.errors import BudgetExhausted
from assay.pipeline.expansion_report import ExpansionReport, KeptSample, Rejection, reason_family
from assay.pipeline.expansion_screen import CandidateScreen
from assay.core.records import FormatName, Message, Origin, Sample
from assay.trace.log import Decision, Trace

__all__ = [
    "CandidateScreen", "ExpandOptions", "ExpansionAgents", "ExpansionReport", "KeptSample", "Rejection", "expand",
    "reason_family", "request_source",
]
AGENT = "synthesizer"


@dataclass(frozen=True)
class ExpandOptions:
    """What to produce and how hard to look."""

    n: int = 10
    synth: SynthOptions = field(default_factory=SynthOptions)
    min_quality: float = 3.5  # the judge's overall score a sample needs
    max_wave: int = 8  # candidates synthesized at once
    max_candidates: int | None = None  # default: 10 × n
    personas: tuple[str, ...] = ()  # added to the personas the request plan names
    rubric: tuple[Criterion, ...] = DEFAULT_RUBRIC


@dataclass(frozen=True)
class ExpansionAgents:
    """The contexts (model, parameters) of the three agents an expansion uses."""

    synthesizer: AgentContext
    decomposer: AgentContext
    judge: AgentContext


def request_source(request: str) -> str:
    """The source of samples grown from a request alone: expand:<hash of the request>."""
    return "expand:" + hashlib.sha256(request.encode("utf-8")).hexdigest()[:12]


async def expand(agents: ExpansionAgents, request: str, seeds: Sequence[Sample], screen: CandidateScreen,
                 trace: Trace, options: ExpandOptions = ExpandOptions(), *, fmt: FormatName = "alpaca") -> ExpansionReport:
    """Grow up to `options.n` judged samples for `request` from `seeds` (or from the request alone)."""
    report = ExpansionReport(request, seed_ids=[s.id for s in seeds])
    budget = agents.synthesizer.gateway.budget
    spent_before = (budget.calls, budget.tokens, budget.usd)
    try:
        await _Run(agents, request, list(seeds), screen, trace, options, fmt, report).run()
    except BudgetExhausted as err:
        report.stopped = f"budget spent: {err}"
    report.calls, report.tokens = budget.calls - spent_before[0], budget.tokens - spent_before[1]
    report.cost_usd = budget.usd - spent_before[2]
    trace.event("expand", f"expanded '{request[:80]}': kept {len(report.kept)} of {report.generated} candidates "
                f"({report.stopped})", report.summary(), round=agents.synthesizer.round)
    return report


@dataclass
class _Run:
    agents: ExpansionAgents
    request: str
    seeds: list[Sample]
    screen: CandidateScreen
    trace: Trace
    options: ExpandOptions
    fmt: FormatName
    report: ExpansionReport
    parents: deque[tuple[Sample, Sample, int]] = field(default_factory=deque)  # (seed, parent, hop to make)
    jobs: deque[HopJob] = field(default_factory=deque)
    budget_spent: str | None = None

    async def run(self) -> None:
        planned = await plan_request(self.agents.synthesizer, self.request)
        self.report.plan = plan = planned.value
        if plan is None:
            self.report.problems.append(f"failed:request: {planned.error}")
            if not self.seeds:
                self.report.stopped = "the request could not be planned, and there are no seeds"
                return
        if not self.seeds:
            assert plan is not None
            self.seeds = [Sample.create([Message(role="user", content=plan.example_instruction)],
                                        source=request_source(self.request), origin=Origin(format=self.fmt))]
            self.report.seedless, self.report.seed_ids = True, [self.seeds[0].id]
        self.parents.extend((seed, seed, 1) for seed in self.seeds)
        limit = self.options.max_candidates or 10 * self.options.n
        while len(self.report.kept) < self.options.n:
            if self.report.generated >= limit:
                self.report.stopped = f"candidate limit reached ({limit})"
                return
            size = min(self.options.max_wave, 2 * (self.options.n - len(self.report.kept)), limit - self.report.generated)
            await self._plan_jobs(size, plan)
            wave = [self.jobs.popleft() for _ in range(min(size, len(self.jobs)))]
            if not wave:
                self.report.stopped = "nothing left to expand: every parent went as deep as allowed"
                return
            await self._run_wave(wave)
            if self.budget_spent:
                raise BudgetExhausted(self.budget_spent)
        self.report.stopped = f"{self.options.n} samples kept"

    async def _plan_jobs(self, wanted: int, plan: RequestPlan | None) -> None:
        """Extract attributes of just enough parents to have `wanted` jobs; their jobs are taken in turn."""
        synth = self.options.synth
        per_parent = max(1, synth.breadth * (len(synth.ops) - (PERSONA_OP in synth.ops)) + synth.breadth)
        personas = [*(plan.personas if plan else []), *self.options.personas]
        while len(self.jobs) < wanted and self.parents:
            # At least one parent per seed, so that a small n still draws on every seed.
            count = min(len(self.parents), max(-(-(wanted - len(self.jobs)) // per_parent), len(self.seeds)))
            batch = [self.parents.popleft() for _ in range(count)]
            plans = await gather_cancelling((
                plan_hop(self.agents.decomposer, seed=seed, parent=parent, hop=hop, source=self._source(seed),
                         fmt=self.fmt, plan=plan, personas=personas, options=synth)
                for seed, parent, hop in batch), settle=(BudgetExhausted,))
            for outcome in plans:
                if isinstance(outcome, BaseException):
                    raise outcome  # BudgetExhausted ends the run; anything else is a bug
            for (_, parent, _), hop_plan in zip(batch, plans, strict=True):
                if hop_plan.error:
                    self.report.problems.append(hop_plan.error)
                    self.trace.decision(parent.id, AGENT, "attributes_failed", reason=hop_plan.error,
                                        call_ids=hop_plan.call_ids, round=self.agents.synthesizer.round)
            for row in zip_longest(*(p.jobs for p in plans)):
                self.jobs.extend(job for job in row if job is not None)

    def _source(self, seed: Sample) -> str:
        return request_source(self.request) if self.report.seedless else f"expand:{seed.id}"

    async def _run_wave(self, wave: list[HopJob]) -> None:
        outcomes = await gather_cancelling((
            synthesize_candidate(self.agents.synthesizer, job, request=self.request,
                                 min_relevance=self.options.synth.min_relevance) for job in wave
        ), settle=(BudgetExhausted,))
        self.report.generated += len(wave)
        candidates = [self._candidate(job, outcome) for job, outcome in zip(wave, outcomes, strict=True)]
        decisions: list[Decision] = []
        alive: list[Candidate] = []
        for c in candidates:
            if not c.ok:
                decisions.append(self._reject(c, c.rejection or "failed"))
            elif (twin := next((a for a in alive if a.sample.id == c.sample.id), None)) is not None:
                # Two jobs wrote the very same sample: screening sees one id, so the copy goes here.
                decisions.append(self._reject(c, f"duplicate_of:{twin.sample.id}", "identical to another candidate"))
            else:
                alive.append(c)
        screened = self.screen([c.sample for c in alive]) if alive else None
        passed: list[Candidate] = []
        for c in alive:
            outcome = screened.outcomes[c.sample.id]
            if outcome.keep:
                passed.append(c)
            else:
                decisions.append(self._reject(c, outcome.reason or "dropped", outcome.detail))
        decisions += await self._judge(passed)
        self.trace.decisions(decisions)
        for c in passed:
            if c.job.hop < max(self.options.synth.depth, self.options.synth.persona_depth):
                self.parents.append((c.job.seed, c.sample, c.job.hop + 1))

    def _candidate(self, job: HopJob, outcome: Candidate | BaseException) -> Candidate:
        if isinstance(outcome, BudgetExhausted):
            self.budget_spent = str(outcome)
            return Candidate(job, rejection=f"failed:budget: {outcome}")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _judge(self, passed: list[Candidate]) -> list[Decision]:
        verdicts = await gather_cancelling((judge_sample(self.agents.judge, c.sample, self.options.rubric) for c in passed),
                                           settle=(BudgetExhausted,))
        decisions = []
        kept_now = []
        for c, verdict in zip(passed, verdicts, strict=True):
            if isinstance(verdict, BudgetExhausted):
                self.budget_spent = str(verdict)
                decisions.append(self._reject(c, f"failed:budget: {verdict}"))
                continue
            if isinstance(verdict, BaseException):
                raise verdict
            call_ids = [*c.call_ids, *verdict.call_ids]
            if verdict.value is None:
                decisions.append(self._reject(c, f"failed:judge: {verdict.error}", call_ids=call_ids))
                continue
            overall = verdict.value.overall
            if overall < self.options.min_quality:
                decisions.append(self._reject(c, f"low_quality:{overall:g}", call_ids=call_ids, overall=overall))
            elif len(self.report.kept) >= self.options.n:
                decisions.append(self._reject(c, "surplus", "the run already kept n samples", call_ids, overall))
            else:
                kept_now.append(self._keep(c, overall))
                decisions.append(self._decision(c, "synth_kept", None, call_ids, overall))
        self.screen.accept(kept_now)
        return decisions

    def _keep(self, c: Candidate, overall: float) -> Sample:
        sample = c.sample.model_copy(update={"scores": {**c.sample.scores, "judge_overall": overall}})
        tags = sample.tags
        self.report.kept.append(KeptSample(sample, c.job.seed.id, c.job.topic, tuple(tags.get("attribute", [])),
                                           c.job.op, c.job.hop, c.relevance, overall))
        return sample

    def _reject(self, c: Candidate, reason: str, detail: str | None = None, call_ids: Sequence[int] | None = None,
                overall: float | None = None) -> Decision:
        self.report.rejected.append(Rejection(reason, c.job.op, c.job.hop, c.job.seed.id, c.sample))
        full = f"{reason} ({detail})" if detail else reason
        return self._decision(c, "synth_rejected", full, call_ids if call_ids is not None else c.call_ids, overall)

    def _decision(self, c: Candidate, action: str, reason: str | None, call_ids: Sequence[int],
                  overall: float | None) -> Decision:
        scores = {"relevance": float(c.relevance)} if c.relevance is not None else {}
        if overall is not None:
            scores["judge_overall"] = overall
        sample_id = c.sample.id if c.sample is not None else None
        return Decision(sample_id, AGENT, action, reason, scores, list(call_ids), self.agents.synthesizer.round)
