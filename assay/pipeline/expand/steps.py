"""Targeted expansion, the services: seeds → AIDE candidates → elimination → screening → judge → kept or rejected.

The loop itself is the LangGraph subgraph in `assay.graphs.expansion` (`expand` runs it, for
`assay expand` and for the curation graph's expand step); the work of each of its steps is
here and in `expansion_wave`. Work proceeds in waves, breadth first: every seed's first hop
before any second hop, and a parent's attributes are only extracted when its jobs are needed,
so a small `n` pays for little more than it keeps. A candidate that passes screening seeds
the next hop even when the judge rejects it (AIDE recurses from every evolved instruction);
eliminated, irrelevant, duplicate and contaminated ones do not. A spent budget stops the run
cleanly: what was kept so far is the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from assay.agents.base import AgentContext
from assay.agents.judge import DEFAULT_RUBRIC, Criterion, judge_sample
from assay.agents.synthesizer import PERSONA_OP, HopJob, RequestPlan, SynthOptions, plan_hop, plan_request
from assay.core.concurrency import gather_cancelling
from assay.core.errors import BudgetExhausted
from assay.core.records import FormatName, Message, Origin, Sample
from assay.pipeline.expand.report import ExpansionReport, KeptSample, Rejection, reason_family
from assay.pipeline.plugins import JudgeFunction
from assay.pipeline.screen.candidates import CandidateScreen
from assay.trace.log import Trace

__all__ = [
    "CandidateScreen", "ExpandOptions", "ExpansionAgents", "ExpansionReport", "ExpansionStart", "JobPlanning",
    "KeptSample", "Parent", "Rejection", "close_report", "plan_jobs", "reason_family", "request_source",
    "spend_mark", "start_expansion", "wave_size",
]
AGENT = "synthesizer"
Parent = tuple[Sample, Sample, int]  # (seed, parent, hop to make)


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

    @property
    def candidate_limit(self) -> int:
        """Candidates to try at most before giving up."""
        return self.max_candidates or 10 * self.n


@dataclass(frozen=True)
class ExpansionAgents:
    """The contexts (model, parameters) of the three agents an expansion uses."""

    synthesizer: AgentContext
    decomposer: AgentContext
    judge: AgentContext
    judge_fn: JudgeFunction = judge_sample  # the judge agent's function (a judge plugin's, see pipeline/plugins.py)


@dataclass(frozen=True)
class ExpansionStart:
    """The request planned, and the seeds the first hops grow from (the request's example when none)."""

    plan: RequestPlan | None
    seeds: list[Sample]
    seedless: bool = False
    problem: str | None = None  # why the request could not be planned
    stopped: str = ""  # set when there is nothing to grow from


@dataclass(frozen=True)
class JobPlanning:
    """Jobs planned from the queued parents: the queues after it, and what went wrong on the way."""

    parents: list[Parent]
    jobs: list[HopJob]
    problems: list[str]
    budget_spent: str | None = None  # the budget ran out while planning: the run stops


def request_source(request: str) -> str:
    """The source of samples grown from a request alone: expand:<hash of the request>."""
    return "expand:" + hashlib.sha256(request.encode("utf-8")).hexdigest()[:12]


async def start_expansion(agents: ExpansionAgents, request: str, seeds: Sequence[Sample],
                          fmt: FormatName) -> ExpansionStart:
    """Plan the request; without seeds, its example instruction is the seed. Raises BudgetExhausted."""
    planned = await plan_request(agents.synthesizer, request)
    plan = planned.value
    problem = f"failed:request: {planned.error}" if plan is None else None
    if seeds:
        return ExpansionStart(plan, list(seeds), problem=problem)
    if plan is None:
        return ExpansionStart(plan, [], problem=problem,
                              stopped="the request could not be planned, and there are no seeds")
    seed = Sample.create([Message(role="user", content=plan.example_instruction)], source=request_source(request),
                         origin=Origin(format=fmt))
    return ExpansionStart(plan, [seed], seedless=True, problem=problem)


def wave_size(options: ExpandOptions, kept: int, generated: int) -> tuple[int, str]:
    """How many candidates the next wave makes, or (0, why the run stops)."""
    if kept >= options.n:
        return 0, f"{options.n} samples kept"
    limit = options.candidate_limit
    if generated >= limit:
        return 0, f"candidate limit reached ({limit})"
    return min(options.max_wave, 2 * (options.n - kept), limit - generated), ""


async def plan_jobs(agents: ExpansionAgents, trace: Trace, options: ExpandOptions, *, request: str, fmt: FormatName,
                    plan: RequestPlan | None, seedless: bool, n_seeds: int, parents: Sequence[Parent],
                    jobs: Sequence[HopJob], wanted: int) -> JobPlanning:
    """Extract attributes of just enough parents to have `wanted` jobs; their jobs are taken in turn."""
    synth = options.synth
    parents, jobs, problems = list(parents), list(jobs), []
    per_parent = max(1, synth.breadth * (len(synth.ops) - (PERSONA_OP in synth.ops)) + synth.breadth)
    personas = [*(plan.personas if plan else []), *options.personas]
    while len(jobs) < wanted and parents:
        # At least one parent per seed, so that a small n still draws on every seed.
        count = min(len(parents), max(-(-(wanted - len(jobs)) // per_parent), n_seeds))
        batch, parents = parents[:count], parents[count:]
        plans = await gather_cancelling((
            plan_hop(agents.decomposer, seed=seed, parent=parent, hop=hop,
                     source=request_source(request) if seedless else f"expand:{seed.id}",
                     fmt=fmt, plan=plan, personas=personas, options=synth)
            for seed, parent, hop in batch), settle=(BudgetExhausted,))
        spent = next((o for o in plans if isinstance(o, BaseException)), None)
        if spent is not None:  # only a spent budget is settled; anything else was raised
            return JobPlanning(parents, jobs, problems, budget_spent=str(spent))
        for (_, parent, _), hop_plan in zip(batch, plans, strict=True):
            if hop_plan.error:
                problems.append(hop_plan.error)
                trace.decision(parent.id, AGENT, "attributes_failed", reason=hop_plan.error,
                               call_ids=hop_plan.call_ids, round=agents.synthesizer.round)
        for row in zip_longest(*(p.jobs for p in plans)):
            jobs.extend(job for job in row if job is not None)
    return JobPlanning(parents, jobs, problems)


def spend_mark(agents: ExpansionAgents) -> tuple[int, int, float]:
    """The budget's counters now (calls, tokens, USD), to measure what an expansion spends."""
    budget = agents.synthesizer.gateway.budget
    return budget.calls, budget.tokens, budget.usd


def close_report(report: ExpansionReport, agents: ExpansionAgents, before: tuple[int, int, float],
                 trace: Trace) -> ExpansionReport:
    """Fill in what the expansion spent since `before` and trace its summary as an `expand` event."""
    calls, tokens, usd = spend_mark(agents)
    report.calls, report.tokens, report.cost_usd = calls - before[0], tokens - before[1], usd - before[2]
    trace.event("expand", f"expanded '{report.request[:80]}': kept {len(report.kept)} of {report.generated} candidates "
                f"({report.stopped})", report.summary(), round=agents.synthesizer.round)
    return report
