"""The curation graph's expansion step: one run of the expansion subgraph per job of the round.

The jobs, the screen they share and the commits are services (assay/pipeline/expand/jobs.py);
each job's proposals are committed with its mark as done, so a re-run after a kill runs the
subgraph only for the jobs left.
"""

from __future__ import annotations

from typing import Any

from assay.core.plan import Plan
from assay.graphs import expansion
from assay.pipeline.deps import CurationDeps
from assay.pipeline.expand.jobs import commit_job, job_options, round_expansion


async def run_expansion(deps: CurationDeps, plan: Plan, round: int) -> tuple[dict[str, Any], str | None]:
    """Run the expansion subgraph for each job of the plan; returns a summary and the budget message."""
    work = round_expansion(deps, plan, round)
    summary: dict[str, Any] = {"jobs": [], "kept": 0, "rejected": 0}
    deps.emit("stage", {"name": "expand", "total": sum(n for _, _, n in work.jobs)})
    for index, (request, seeds, n) in enumerate(work.jobs):
        outcome = work.committed(index)
        if outcome is None:
            report = await expansion.expand(work.agents, request, seeds, work.screen, deps.session.trace,
                                            job_options(deps, n), fmt=work.fmt)
            outcome = commit_job(deps, work, round, report)
        deps.emit("advance", {"name": "expand", "n": n})
        summary["jobs"].append(outcome.summary)
        summary["kept"] += outcome.kept
        summary["rejected"] += outcome.rejected
        if outcome.stopped.startswith("budget spent"):
            return summary, outcome.stopped
    return summary, None
