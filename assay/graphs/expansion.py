"""The expansion loop as a LangGraph subgraph: the steps are services in assay/pipeline/expand/.

    plan_request → next_wave → synthesize → screen → judge → keep
                       ↑                                      │
                       └──────────── more wanted ─────────────┘

plan_request, next_wave and keep end the graph once a step says why the run stops: n kept,
the candidate limit reached, nothing left to expand, the budget spent, or no plan and no seeds.

`expand` runs it for `assay expand` and for the curation graph's expand step, one request at
a time, and returns the ExpansionReport. The state carries the samples of one expansion in
memory, never checkpointed (an expansion job's progress is recorded in the session by the
caller); the dependencies (agents, screen, trace, options) are the runtime context.
"""

from __future__ import annotations

import asyncio
import contextvars
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from assay.agents.synth_ops import RequestPlan
from assay.agents.synthesizer import Candidate, HopJob
from assay.core.errors import BudgetExhausted
from assay.core.records import FormatName, Sample
from assay.pipeline.expand.steps import (
    ExpandOptions, ExpansionAgents, ExpansionReport, Parent, close_report, plan_jobs, spend_mark, start_expansion,
    wave_size,
)
from assay.pipeline.expand.report import KeptSample, Rejection
from assay.pipeline.screen.candidates import CandidateScreen
from assay.pipeline.expand.wave import JudgeOutcome, judge_wave, screen_wave, settle_wave, synthesize_wave
from assay.trace.log import Decision, Trace

NODES_PER_WAVE = 5  # next_wave, synthesize, screen, judge, keep


@dataclass(frozen=True)
class ExpansionDeps:
    """The subgraph's runtime context: what the steps work with besides the state."""

    agents: ExpansionAgents
    screen: CandidateScreen
    trace: Trace
    options: ExpandOptions


@dataclass
class ExpansionState:
    """One expansion in flight: its queues, the wave under way, and what it kept and rejected so far."""

    request: str
    seeds: list[Sample]
    fmt: FormatName = "alpaca"
    seed_ids: list[str] = field(default_factory=list)
    seedless: bool = False
    plan: RequestPlan | None = None
    parents: list[Parent] = field(default_factory=list)  # queue of parents whose jobs are not planned yet
    jobs: list[HopJob] = field(default_factory=list)  # queue of planned jobs not run yet
    wave: list[HopJob] = field(default_factory=list)  # the wave under way: its jobs …
    alive: list[Candidate] = field(default_factory=list)  # … its candidates going to screening …
    passed: list[Candidate] = field(default_factory=list)  # … the ones the screen passed …
    verdicts: list[JudgeOutcome] = field(default_factory=list)  # … the judge's verdicts on them …
    decisions: list[Decision] = field(default_factory=list)  # … and its decisions, traced together at the end
    generated: int = 0  # candidates attempted
    kept: Annotated[list[KeptSample], operator.add] = field(default_factory=list)
    rejected: Annotated[list[Rejection], operator.add] = field(default_factory=list)
    problems: Annotated[list[str], operator.add] = field(default_factory=list)
    budget_spent: str | None = None  # the budget ran out in this wave: the run stops at its end
    stopped: str = ""  # why the run stopped; set once, and the graph ends


async def plan_request(state: ExpansionState, runtime: Runtime[ExpansionDeps]) -> dict[str, Any]:
    """Plan the request and queue the seeds (the request's example without seeds) for their first hop."""
    try:
        start = await start_expansion(runtime.context.agents, state.request, state.seeds, state.fmt)
    except BudgetExhausted as err:
        return {"stopped": f"budget spent: {err}"}
    update: dict[str, Any] = {"plan": start.plan, "problems": [start.problem] if start.problem else [],
                              "stopped": start.stopped, "seeds": start.seeds,
                              "parents": [(seed, seed, 1) for seed in start.seeds]}
    if start.seedless:
        update.update(seedless=True, seed_ids=[start.seeds[0].id])
    return update


async def next_wave(state: ExpansionState, runtime: Runtime[ExpansionDeps]) -> dict[str, Any]:
    """Stop when enough were kept or tried; else plan enough jobs for the next wave and take them."""
    deps = runtime.context
    size, stopped = wave_size(deps.options, len(state.kept), state.generated)
    if stopped:
        return {"stopped": stopped}
    planned = await plan_jobs(deps.agents, deps.trace, deps.options, request=state.request, fmt=state.fmt,
                              plan=state.plan, seedless=state.seedless, n_seeds=len(state.seeds),
                              parents=state.parents, jobs=state.jobs, wanted=size)
    update: dict[str, Any] = {"parents": planned.parents, "jobs": planned.jobs[size:], "wave": planned.jobs[:size],
                              "problems": planned.problems}
    if planned.budget_spent is not None:
        update["stopped"] = f"budget spent: {planned.budget_spent}"
    elif not planned.jobs:
        update["stopped"] = "nothing left to expand: every parent went as deep as allowed"
    return update


async def synthesize(state: ExpansionState, runtime: Runtime[ExpansionDeps]) -> dict[str, Any]:
    """Write the wave's candidates; failed ones and copies within the wave are rejected."""
    deps = runtime.context
    step = await synthesize_wave(deps.agents, deps.options, state.request, state.wave)
    return {"generated": state.generated + len(state.wave), "alive": step.going_on, "rejected": step.rejected,
            "decisions": step.decisions, "budget_spent": step.budget_spent or state.budget_spent}


async def screen(state: ExpansionState, runtime: Runtime[ExpansionDeps]) -> dict[str, Any]:
    """Screen the wave's candidates against the pool and each other."""
    step = screen_wave(runtime.context.screen, state.alive, runtime.context.agents.synthesizer.round)
    return {"passed": step.going_on, "rejected": step.rejected, "decisions": [*state.decisions, *step.decisions]}


async def judge(state: ExpansionState, runtime: Runtime[ExpansionDeps]) -> dict[str, Any]:
    """The judge's verdict on each screened candidate."""
    return {"verdicts": await judge_wave(runtime.context.agents, runtime.context.options, state.passed)}


async def keep(state: ExpansionState, runtime: Runtime[ExpansionDeps]) -> dict[str, Any]:
    """Keep or reject by the verdicts, trace the wave, and queue the screened candidates' next hops."""
    deps = runtime.context
    end = settle_wave(deps.screen, deps.trace, deps.options, state.passed, state.verdicts, state.decisions,
                      kept_before=len(state.kept), round=deps.agents.synthesizer.round)
    spent = end.budget_spent or state.budget_spent
    return {"kept": end.kept, "rejected": end.rejected, "parents": [*state.parents, *end.parents], "budget_spent": spent,
            "stopped": f"budget spent: {spent}" if spent else "",
            "wave": [], "alive": [], "passed": [], "verdicts": [], "decisions": []}


def route_stopped(state: ExpansionState) -> Literal["next_wave", "__end__"]:
    """After planning the request, and after each wave: go on until a step says why to stop."""
    return END if state.stopped else "next_wave"


def route_wave(state: ExpansionState) -> Literal["synthesize", "__end__"]:
    """Run the wave just taken, unless there is none."""
    return END if state.stopped else "synthesize"


def build_expansion_graph() -> StateGraph:
    """The expansion subgraph's builder (compile it with a checkpointer, or none)."""
    graph = StateGraph(ExpansionState, context_schema=ExpansionDeps)
    for node in (plan_request, next_wave, synthesize, screen, judge, keep):
        graph.add_node(node.__name__, node)
    graph.add_edge(START, "plan_request")
    graph.add_conditional_edges("plan_request", route_stopped)
    graph.add_conditional_edges("next_wave", route_wave)
    graph.add_edge("synthesize", "screen")
    graph.add_edge("screen", "judge")
    graph.add_edge("judge", "keep")
    graph.add_conditional_edges("keep", route_stopped)
    return graph


@cache
def expansion_graph() -> CompiledStateGraph:
    """The compiled subgraph, without a checkpointer, built once per process: a job killed midway
    is run again from its start, and a finished job's outcome is in the session."""
    return build_expansion_graph().compile()


async def expand(agents: ExpansionAgents, request: str, seeds: Sequence[Sample], screen: CandidateScreen,
                 trace: Trace, options: ExpandOptions = ExpandOptions(), *, fmt: FormatName = "alpaca") -> ExpansionReport:
    """Grow up to `options.n` judged samples for `request` from `seeds` (or from the request alone)."""
    before = spend_mark(agents)
    # Each wave makes at least one candidate, so the candidate limit bounds the steps.
    limit = NODES_PER_WAVE * (options.candidate_limit + 2) + 10
    run = expansion_graph().ainvoke(
        {"request": request, "seeds": list(seeds), "fmt": fmt, "seed_ids": [s.id for s in seeds]},
        context=ExpansionDeps(agents, screen, trace, options), config={"recursion_limit": limit})
    # Run apart from any calling graph: LangGraph hands a graph invoked inside a node its caller's
    # config through a context variable, checkpointer and durability included, so the curation
    # graph's checkpoints would take every wave's samples.
    final = await asyncio.create_task(run, context=contextvars.Context())
    done = ExpansionState(**final)
    report = ExpansionReport(request, plan=done.plan, seed_ids=done.seed_ids, seedless=done.seedless, kept=done.kept,
                             rejected=done.rejected, generated=done.generated, problems=done.problems,
                             stopped=done.stopped)
    return close_report(report, agents, before, trace)
