"""The expansion step of a round: turn the plan's clusters or topics into synthesizer runs.

A cluster is grown from its best samples (the seeds), under a request asking for more of
what they share; a topic from the pool's nearest samples to the topic phrase. Each kept
sample becomes a proposal with its judge score; `apply` brings the approved ones in.
The round's jobs are fixed once, when the step first starts, and each job's proposals are
committed with its mark as done: a re-run after a kill does only the jobs left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.graphs.deps import CurationDeps
from assay.graphs.state import Plan
from assay.session.judgements import latest_judgements
from assay.session.proposals import propose, proposals, sample_payload
from assay.core.records import Sample, Status

SEEDS_PER_JOB = 4
PROGRESS_META = "expand_progress"  # the current round's jobs and those committed, see `_progress`


def expansion_jobs(session: Any, plan: Plan) -> list[tuple[str, list[Sample], int]]:
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


async def run_expansion(deps: CurationDeps, plan: Plan, round: int) -> tuple[dict[str, Any], str | None]:
    """Run the synthesizer for each job of the plan; returns a summary and the budget message."""
    from assay.agents.synthesizer import SynthOptions
    from assay.pipeline.expansion import ExpandOptions, ExpansionAgents, expand
    from assay.pipeline.expansion_screen import CandidateScreen

    session, options = deps.session, deps.options
    agents = ExpansionAgents(deps.agent("synthesizer", round), deps.agent("decomposer", round), deps.agent("judge", round))
    pool = list(session.samples.iter(status=Status.ACTIVE))
    screen = CandidateScreen(pool, dedup_methods=[m for m in options.dedup if m != "semantic"],
                             decontam=[Path(p) for p in options.decontam], seed=session.config.llm.seed)
    fmt = session.meta("input_format", "alpaca")
    summary: dict[str, Any] = {"jobs": [], "kept": 0, "rejected": 0}
    progress = _progress(session, plan, round)
    jobs = [(request, session.samples.get(seed_ids), n) for request, seed_ids, n in progress["jobs"]]
    made = {p.sample_id: p.sample() for p in proposals(session.conn, round=round, kind="expand")}
    deps.emit("stage", {"name": "expand", "total": sum(n for _, _, n in jobs)})
    for index, (request, seeds, n) in enumerate(jobs):
        if index < len(progress["done"]):  # committed before a kill: its samples still count for dedup
            done = progress["done"][index]
            screen.accept([made[i] for i in done["kept"]])
            job, kept, rejected, stopped = done["summary"], len(done["kept"]), done["rejected"], done["stopped"]
        else:
            expand_options = ExpandOptions(n=n, min_quality=options.min_synth_quality,
                                           rubric=session.config.judge.rubric,
                                           synth=SynthOptions(depth=options.expand_depth))
            report = await expand(agents, request, seeds, screen, session.trace, expand_options, fmt=fmt)
            job, kept, rejected, stopped = report.summary(), len(report.kept), len(report.rejected), report.stopped
            progress["done"].append({"summary": job, "kept": [k.sample.id for k in report.kept], "rejected": rejected,
                                     "stopped": stopped})
            with session.conn:  # a job's proposals and its mark as done land together
                for k in report.kept:
                    propose(session.conn, session.runtime.clock, round=round, kind="expand", sample_id=k.sample.id,
                            parent_id=k.seed_id, auto_approve=not options.review,
                            summary=f"{k.op} hop {k.hop} from {k.seed_id} on {k.topic}",
                            payload=sample_payload(k.sample, judge_overall=k.judge_overall, topic=k.topic,
                                                   attributes=list(k.attributes), relevance=k.relevance))
                session.set_meta(PROGRESS_META, progress)
        deps.emit("advance", {"name": "expand", "n": n})
        summary["jobs"].append(job)
        summary["kept"] += kept
        summary["rejected"] += rejected
        if stopped.startswith("budget spent"):
            return summary, stopped
    return summary, None


def _progress(session: Any, plan: Plan, round: int) -> dict[str, Any]:
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
