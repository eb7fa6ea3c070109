"""Tag a batch of samples with their skills/intents (the label space of MIG selection).

The caller writes the tags into `Sample.tags["skills"]`; a sample whose call failed gets
no tags here, only an entry in `failures` — a failure is reported, never turned into a
default label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from assay.agents.base import AgentContext
from assay.agents.decomposer import tag_sample
from assay.core.concurrency import gather_or_stop
from assay.core.records import Sample

SKILLS_TAG_KEY = "skills"


@dataclass
class TagBatch:
    """Tags per sample id, and the error of each sample that could not be tagged."""

    tags: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    call_ids: dict[str, tuple[int, ...]] = field(default_factory=dict)


async def tag_samples(ctx: AgentContext, samples: Iterable[Sample], *, max_tags: int = 5,
                      on_done: Callable[[int], None] | None = None) -> TagBatch:
    """Tag every sample once (repeated ids are asked once); the gateway bounds concurrency.

    `on_done(1)` is called as each sample finishes, for a progress bar.
    """
    unique = list({sample.id: sample for sample in samples}.values())
    batch = TagBatch()

    async def one(sample: Sample) -> None:
        result = await tag_sample(ctx, sample, max_tags=max_tags)
        batch.call_ids[sample.id] = result.call_ids
        if result.value is not None:
            batch.tags[sample.id] = list(result.value.tags)
        else:
            batch.failures[sample.id] = result.error or "no answer"
        if on_done is not None:
            on_done(1)

    # A failure (a bug: failed calls come back as results) cancels the other calls.
    await gather_or_stop(one(sample) for sample in unique)
    # Insertion order follows completion; give the caller input order back.
    batch.tags = {s.id: batch.tags[s.id] for s in unique if s.id in batch.tags}
    batch.failures = {s.id: batch.failures[s.id] for s in unique if s.id in batch.failures}
    return batch
