"""The expansion step of a round, the services: the plan's clusters or topics as expansion jobs.

A cluster is grown from its best samples (the seeds), under a request asking for more of
what they share; a topic from the pool's nearest samples to the topic phrase. Each kept
sample becomes a proposal with its judge score; `apply` brings the approved ones in.
The round's jobs are fixed once, when the step first starts, and each job's proposals are
committed with its mark as done: a re-run after a kill does only the jobs left. The
orchestration (one expansion subgraph run per job) is assay/graphs/expansion_jobs.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.agents.synthesizer import SynthOptions
from assay.core.plan import Plan
from assay.core.records import FormatName, Sample, Status
from assay.pipeline.deps import CurationDeps
from assay.pipeline.expand.steps import ExpandOptions, ExpansionAgents, ExpansionReport
from assay.pipeline.plugins import judge_function, screen_stages
from assay.pipeline.screen.candidates import CandidateScreen
from assay.session.judgements import latest_judgements
from assay.session.proposals import proposals, propose, sample_payload

SEEDS_PER_JOB = 4
PROGRESS_META = "expand_progress"  # the current round's jobs and those committed, see `job_progress`
Job = tuple[str, list[Sample], int]  # (request, seeds, n)


@dataclass(frozen=True)
class JobOutcome:
    """What one job did, as the round's summary counts it."""

    summary: dict[str, Any]
    kept: int
    rejected: int
    stopped: str


@dataclass
class RoundExpansion:
    """A round's expansion jobs and what they share: the agents, the screen (the pool and every sample
    kept so far), the pool's format, and the progress recorded in the session."""

    agents: ExpansionAgents
    screen: CandidateScreen
    fmt: FormatName
    jobs: list[Job]
    progress: dict[str, Any]
    made: dict[str, Sample]  # this round's expansion proposals: the samples committed jobs kept

    def committed(self, index: int) -> JobOutcome | None:
        """The job's outcome when it was committed before a kill (its samples then join the screen), else None."""
        if index >= len(self.progress["done"]):
            return None
        done = self.progress["done"][index]
        self.screen.accept([self.made[i] for i in done["kept"]])  # they still count for dedup
        return JobOutcome(done["summary"], len(done["kept"]), done["rejected"], done["stopped"])


def expansion_jobs(session: Any, plan: Plan) -> list[Job]:
    """(request, seeds, n) per cluster or topic of the plan; n split evenly, at least 1 each."""
    targets: list[tuple[str, list[Sample]]] = []
    if plan.topics:
        store = session.store
        for topic in plan.topics:
            hits = [h.id for h in store.query_text(topic, SEEDS_PER_JOB, where={"status": Status.ACTIVE.value})]
            targets.append((f"New instruction-response samples about: {topic}", session.samples.get(hits)))
    else:
        active = list(session.samples.iter(status=Status.ACTIVE))
        quality = {i: v.overall for i, v in latest_judgements(session.conn, [s.id for s in active]).items() if v.ok}
        for cluster in plan.clusters:
            members = [s for s in active if str(cluster) in s.tags.get("cluster", [])]
            members.sort(key=lambda s: (-(quality.get(s.id) or 0.0), s.id))
            seeds = members[:SEEDS_PER_JOB]
            if not seeds:
                continue
            example = seeds[0].instruction.splitlines()[0][:160]
            targets.append((f"More instruction-response samples on the same tasks as these seeds, e.g. \"{example}\"",
                            seeds))
    if not targets:
        return []
    share, extra = divmod(max(plan.n, len(targets)), len(targets))
    return [(request, seeds, share + (i < extra)) for i, (request, seeds) in enumerate(targets)]


def round_expansion(deps: CurationDeps, plan: Plan, round: int) -> RoundExpansion:
    """The round's jobs (fixed when the step first starts), with the agents and the screen they share."""
    session, options = deps.session, deps.options
    agents = ExpansionAgents(deps.agent("synthesizer", round), deps.agent("decomposer", round), deps.agent("judge", round),
                             judge_function(session.config.plugins,
                                            code_criterion=session.config.judge.code_criterion))
    pool = list(session.samples.iter(status=Status.ACTIVE))
    screen = CandidateScreen(pool, dedup_methods=[m for m in options.dedup if m != "semantic"],
                             decontam=[Path(p) for p in options.decontam], seed=session.config.llm.seed,
                             plugins=screen_stages(session.config.plugins), screen=session.config.screen)
    fmt = session.meta("input_format", "alpaca")
    progress = job_progress(session, plan, round)
    jobs = [(request, session.samples.get(seed_ids), n) for request, seed_ids, n in progress["jobs"]]
    made = {p.sample_id: p.sample() for p in proposals(session.conn, round=round, kind="expand")}
    return RoundExpansion(agents, screen, fmt, jobs, progress, made)


def job_options(deps: CurationDeps, n: int) -> ExpandOptions:
    """How a round's job expands: the run's depth and quality bar, the session's rubric."""
    return ExpandOptions(n=n, min_quality=deps.options.min_synth_quality, rubric=deps.session.config.judge.rubric,
                         synth=SynthOptions(depth=deps.options.expand_depth))


def commit_job(deps: CurationDeps, work: RoundExpansion, round: int, report: ExpansionReport) -> JobOutcome:
    """Propose the job's kept samples and mark the job done, in one transaction."""
    session, progress = deps.session, work.progress
    outcome = JobOutcome(report.summary(), len(report.kept), len(report.rejected), report.stopped)
    progress["done"].append({"summary": outcome.summary, "kept": [k.sample.id for k in report.kept],
                             "rejected": outcome.rejected, "stopped": outcome.stopped})
    with session.conn:  # a job's proposals and its mark as done land together
        for k in report.kept:
            propose(session.conn, session.runtime.clock, round=round, kind="expand", sample_id=k.sample.id,
                    parent_id=k.seed_id, auto_approve=not deps.options.review,
                    summary=f"{k.op} hop {k.hop} from {k.seed_id} on {k.topic}",
                    payload=sample_payload(k.sample, judge_overall=k.judge_overall, topic=k.topic,
                                           attributes=list(k.attributes), relevance=k.relevance))
        session.set_meta(PROGRESS_META, progress)
    return outcome


def job_progress(session: Any, plan: Plan, round: int) -> dict[str, Any]:
    """This round's jobs and the ones done, fixed when the step first starts: a re-run after a kill
    does the same jobs (the same seeds, n and order) and skips the ones already committed."""
    stored = session.meta(PROGRESS_META)
    planned = plan.model_dump(mode="json")
    if stored is not None and stored["round"] == round and stored["plan"] == planned:
        return dict(stored)
    jobs = [[request, [s.id for s in seeds], n] for request, seeds, n in expansion_jobs(session, plan)]
    progress = {"round": round, "plan": planned, "jobs": jobs, "done": []}
    session.set_meta(PROGRESS_META, progress)
    return progress
