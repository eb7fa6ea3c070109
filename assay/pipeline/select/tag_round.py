"""The run's tag step: skill tags on the samples MIG selects among, so it selects on skills.

Runs inside the final selection, after the last judging: each candidate without skill tags
is tagged by the decomposer (one LLM call, through the gateway, its cache and the budget).
Tags are written chunk by chunk, so a kill or a spent budget keeps what was paid for and a
resume tags only the rest. A failed call leaves the sample untagged, with a `tag_failed`
decision in the trace: a failure is never turned into a default label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.core.records import Sample
from assay.pipeline.select.tagging import SKILLS_TAG_KEY

CHUNK = 16


def wants_tags(deps: Any) -> bool:
    """Whether this run's selection uses skill tags, and the recipe (or --no-tags) lets it tag."""
    return deps.options.selection == "mig" and deps.session.config.tags.enabled


async def tag_candidates(deps: Any, samples: Sequence[Sample], round: int) -> str | None:
    """Tag the samples that have no skill tags yet; returns the budget message when it ran out."""
    from assay.agents.decompose_tags import tag_sample
    from assay.core.concurrency import run_chunked

    session = deps.session
    todo = [s for s in samples if not s.tags.get(SKILLS_TAG_KEY)]
    if not todo:
        return None
    ctx = deps.agent("decomposer", round)
    max_tags = session.config.tags.max_tags
    deps.emit("stage", {"name": "tag", "total": len(todo)})
    tagged = failed = 0
    spent = None
    for start in range(0, len(todo), CHUNK):
        part = todo[start : start + CHUNK]
        results, spent = await run_chunked(part, lambda s: tag_sample(ctx, s, max_tags=max_tags), CHUNK,
                                           lambda: deps.emit("advance", {"name": "tag", "n": 1}))
        found = {s.id: list(r.value.tags) for s, r in zip(part, results, strict=True) if r is not None and r.ok}
        failures = [(s, r) for s, r in zip(part, results, strict=True) if r is not None and not r.ok]
        with session.conn:  # a chunk's tags and its failures land together
            if found:
                session.store.set_tags({i: {SKILLS_TAG_KEY: tags} for i, tags in found.items()})
            for sample, result in failures:
                session.trace.decision(sample.id, "decomposer", "tag_failed", reason=result.error or "no answer",
                                       call_ids=result.call_ids, round=round)
        tagged += len(found)
        failed += len(failures)
        if spent:
            break
    summary = {"tagged": tagged, "failed": failed, "untagged": len(todo) - tagged}
    session.trace.event("tag", f"tagged {tagged} of {len(todo)} candidates with skills"
                        + (f"; {failed} failed" if failed else "") + (f"; stopped: {spent}" if spent else ""),
                        summary, round=round)
    deps.emit("tagged", summary)
    return spent
