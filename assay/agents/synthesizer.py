"""The synthesizer agent: AIDE-style attribute-guided multi-hop expansion, one seed at a time.

Following AIDE (Li et al., ACL 2025; reference code Code4Graph/AIDE), each hop reads the
parent instruction as a small knowledge graph (topic + attributes, from the decomposer),
expands the attribute set with related knowledge the parent does not use yet, and rewrites
the parent once per (attribute, operation) — `reasoning`, `concrete`, `constraint` — plus a
persona-driven branch for diversity. Children are expanded again, up to depth K. Past the
first hop every prompt also shows the seed (the residual link), self-reflection rates each
candidate's relevance to the seed and repairs or discards drifted ones, and Evol-Instruct's
elimination rules throw away failed evolutions before anything more is paid for them.

This module plans a parent's hop (`plan_hop`) and runs one candidate through evolve →
eliminate → reflect → respond → eliminate (`synthesize_candidate`); the orchestration over
seeds, screening and judging is the expansion subgraph, `assay.graphs.expansion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from assay.agents.base import AgentContext
from assay.agents.decomposer import extract_attributes
from assay.agents.elimination import eliminate_instruction, eliminate_response
from assay.agents.synth_ops import (
    EVOLVE_OPS, OPS, PERSONA_OP, RequestPlan, distinct_labels, evolve_instruction, persona_instruction, plan_request,
    write_response,
)
from assay.agents.synth_reflect import DEFAULT_MIN_RELEVANCE, Relevance, reflect
from assay.core.records import FormatName, Message, Origin, Sample

__all__ = [
    "EVOLVE_OPS", "OPS", "PERSONA_OP", "Candidate", "HopJob", "HopPlan", "Relevance", "RequestPlan", "SynthOptions",
    "choose_attributes", "plan_hop", "plan_request", "synthesize_candidate",
]


@dataclass(frozen=True)
class SynthOptions:
    """How far and how wide to expand each seed."""

    depth: int = 2  # K: hops of reasoning/concrete/constraint rewrites
    persona_depth: int = 1  # hops of the persona branch (AIDE's d_depth)
    breadth: int = 2  # attributes (and personas) used per parent
    ops: tuple[str, ...] = OPS
    n_proposed: int = 2  # new attributes asked of the decomposer per parent (AIDE's num_triples)
    min_relevance: int = DEFAULT_MIN_RELEVANCE

    def __post_init__(self) -> None:
        unknown = set(self.ops) - set(OPS)
        if unknown or not self.ops:
            raise ValueError(f"unknown or no operations {sorted(unknown)}; choose from {', '.join(OPS)}")
        if self.depth < 0 or self.persona_depth < 0 or self.breadth < 1 or not 1 <= self.min_relevance <= 10:
            raise ValueError("depths must be >= 0, breadth >= 1 and min_relevance within 1-10")


@dataclass(frozen=True)
class HopJob:
    """One rewrite to make: `parent` along `op` with `attribute` (the persona, for the persona op)."""

    seed: Sample
    parent: Sample
    hop: int
    op: str
    attribute: str
    topic: str
    source: str  # the new sample's source: expand:<seed id or request hash>
    fmt: FormatName  # the seed pool's format, so the sample is written back in it


@dataclass(frozen=True)
class HopPlan:
    """The jobs planned from one parent, and what they were planned from."""

    jobs: list[HopJob]
    topic: str | None
    attributes: list[str]
    error: str | None = None  # the decomposer's failure, when its attributes could not be used
    call_ids: tuple[int, ...] = ()


@dataclass
class Candidate:
    """One synthesized sample, or why there is none."""

    job: HopJob
    sample: Sample | None = None
    relevance: int | None = None
    rejection: str | None = None
    improved: bool = False
    call_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether a sample came out and no rule rejected it."""
        return self.sample is not None and self.rejection is None


def choose_attributes(groups: Sequence[Sequence[str]], breadth: int) -> list[str]:
    """Up to `breadth` distinct attributes, taken in turn from each group (request, extracted, proposed).

    Taking in turn keeps the expanded attributes — the new knowledge that makes a hop
    multi-hop — in play even when `breadth` is small.
    """
    interleaved = [a for row in zip_longest(*groups) for a in row if a]
    return distinct_labels(interleaved)[:breadth]


def _diagonal(attributes: Sequence[str], ops: Sequence[str]) -> list[tuple[str, str]]:
    """Every (attribute, op) pair, ordered so that the first few vary both."""
    pairs = [(a, o) for i, a in enumerate(attributes) for j, o in enumerate(ops)]
    return sorted(pairs, key=lambda p: ((ops.index(p[1]) - attributes.index(p[0])) % len(ops), attributes.index(p[0])))


async def plan_hop(ctx: AgentContext, *, seed: Sample, parent: Sample, hop: int, source: str, fmt: FormatName,
                   plan: RequestPlan | None, personas: Sequence[str] = (), options: SynthOptions = SynthOptions()) -> HopPlan:
    """The rewrites of `parent` at `hop`: its attributes (extracted and expanded) × the operations.

    At hop 1 the request's attributes join the parent's own. When the decomposer fails,
    the request's topic and attributes are used alone (and the failure is reported);
    without a request plan there is then nothing to plan.
    """
    evolve_ops = [op for op in options.ops if op in EVOLVE_OPS] if hop <= options.depth else []
    persona_ops = PERSONA_OP in options.ops and hop <= options.persona_depth
    if not evolve_ops and not persona_ops:
        return HopPlan([], None, [])
    found = await extract_attributes(ctx, parent, n_proposed=options.n_proposed)
    request_attributes = list(plan.attributes) if plan is not None and hop == 1 else []
    if found.value is not None:
        topic = found.value.topic
        groups = [request_attributes, [t.attribute for t in found.value.triplets], [t.attribute for t in found.value.proposed]]
        error = None
    elif plan is not None:
        topic, groups, error = plan.topic, [list(plan.attributes)], f"failed:attributes: {found.error}"
    else:
        return HopPlan([], None, [], f"failed:attributes: {found.error}", found.call_ids)
    attributes = choose_attributes(groups, options.breadth)

    def job(op: str, attribute: str) -> HopJob:
        return HopJob(seed, parent, hop, op, attribute, topic, source, fmt)

    evolve_jobs = [job(op, a) for a, op in _diagonal(attributes, evolve_ops)] if evolve_ops else []
    persona_jobs = [job(PERSONA_OP, p) for p in distinct_labels(personas)[: options.breadth]] if persona_ops else []
    # A persona job after each round of operations: both of AIDE's branches show up early.
    step = max(len(evolve_ops), 1)
    jobs: list[HopJob] = []
    for start in range(0, max(len(evolve_jobs), 1), step):
        jobs += evolve_jobs[start : start + step]
        if persona_jobs:
            jobs.append(persona_jobs.pop(0))
    jobs += persona_jobs
    return HopPlan(jobs, topic, attributes, error, found.call_ids)


async def synthesize_candidate(ctx: AgentContext, job: HopJob, *, request: str,
                               min_relevance: int = DEFAULT_MIN_RELEVANCE) -> Candidate:
    """Evolve, check, reflect, answer and check again: one new sample, or the reason there is none."""
    candidate = Candidate(job)
    ids = [job.parent.id]
    common = {"parent": job.parent.instruction, "seed": job.seed.instruction, "hop": job.hop, "topic": job.topic,
              "request": request, "sample_ids": ids}
    if job.op == PERSONA_OP:
        evolved = await persona_instruction(ctx, persona=job.attribute, **common)
    else:
        evolved = await evolve_instruction(ctx, op=job.op, attribute=job.attribute, **common)
    candidate.call_ids += evolved.call_ids
    if evolved.value is None:
        candidate.rejection = f"failed:evolve: {evolved.error}"
        return candidate
    verdict = eliminate_instruction(evolved.value.instruction, job.parent.instruction)
    if not verdict.keep:
        candidate.rejection = verdict.reason
        return candidate
    reflection = await reflect(ctx, seed=job.seed.instruction, parent=job.parent.instruction,
                               candidate=evolved.value.instruction, min_relevance=min_relevance, sample_ids=ids)
    candidate.call_ids += reflection.call_ids
    candidate.relevance, candidate.improved = reflection.score, reflection.improved
    if reflection.instruction is None:
        candidate.rejection = reflection.rejection
        return candidate
    answered = await write_response(ctx, reflection.instruction, sample_ids=ids)
    candidate.call_ids += answered.call_ids
    if answered.value is None:
        candidate.rejection = f"failed:respond: {answered.error}"
        return candidate
    candidate.sample = _new_sample(job, reflection.instruction, answered.value.response, reflection.score)
    verdict = eliminate_response(answered.value.response)
    if not verdict.keep:
        candidate.rejection = verdict.reason
    return candidate


def _new_sample(job: HopJob, instruction: str, response: str, relevance: int | None) -> Sample:
    tags = {"topic": [job.topic], "op": [job.op], "hop": [str(job.hop)]}
    tags["persona" if job.op == PERSONA_OP else "attribute"] = [job.attribute]
    return Sample.create(
        [Message(role="user", content=instruction), Message(role="assistant", content=response)],
        source=job.source, parent_ids=(job.parent.id,), op="synth", origin=Origin(format=job.fmt), tags=tags,
        scores={"relevance": float(relevance)} if relevance is not None else {},
    )
