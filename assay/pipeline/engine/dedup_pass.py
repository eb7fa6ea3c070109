"""The global dedup step: candidate groups (dedup_groups.py, or the executor's own), then dedup within each group.

Each group is deduplicated by the very Dedup tool the in-memory engine runs (tools/dedup*.py):
its pairs, clusters, keeper and reasons only ever involve samples of one group, so
deduplicating group by group gives the same verdicts as the whole pool at once.

Groups are gathered in one sequential read of the parts; a group's samples are loaded once its
last member has been read and sent to the executor with others up to a batch's worth, so memory
holds the key and signature columns and the groups still open, never the pool's samples.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assay.pipeline.engine.dedup_groups import candidate_groups
from assay.pipeline.engine.executor import Executor
from assay.pipeline.engine.parts import Parts
from assay.pipeline.progress import StartTask
from assay.pipeline.screen.scoring import ScoreOptions

__all__ = ["DONE", "PART", "DedupJob", "candidate_groups", "dedup_group", "run_dedup"]

PART = "dedup"
DONE = "dedup-done"


@dataclass(frozen=True)
class DedupJob:
    """Whole candidate groups: their samples (JSON) and input positions, in input order."""

    positions: tuple[int, ...]
    samples: tuple[str, ...]
    options: ScoreOptions
    semantic: tuple[tuple[int, int, float], ...] = ()  # the semantic pairs among them (indices into `positions`)


def dedup_group(job: DedupJob) -> dict[str, Any]:
    """The Dedup tool over the job's samples; the verdicts of those it dropped or scored (the others are kept
    with no dedup scores, like a sample alone in its group)."""
    from assay.core.records import Sample
    from assay.pipeline.screen.scoring import build_stages

    samples = [Sample.model_validate_json(text) for text in job.samples]
    if "semantic" in job.options.dedup:  # its pairs were found over the whole pool (session_semantic.py)
        from assay.pipeline.screen.scoring import dedup_options
        from assay.tools.dedup import DuplicatePair, dedup

        found = [DuplicatePair(a, b, "semantic", similarity) for a, b, similarity in job.semantic]
        verdicts = dedup(samples, job.options.dedup, seed=job.options.seed, semantic_found=found,
                         **dedup_options(job.options.screen)).assessments
    else:
        only_dedup = replace(job.options, heuristics=False, decontam=(), ifd=False, plugins=(), embed=False)
        (stage,) = build_stages(only_dedup, None)
        verdicts = stage.run(samples)
    return {"seen": len(samples), "verdicts": [
        {"position": position, "keep": v.keep, "reason": v.reason, "detail": v.detail, "scores": json.dumps(v.scores)}
        for position, v in zip(job.positions, verdicts, strict=True) if not v.keep or v.scores]}


def run_dedup(parts: Parts, batches: int, batch_size: int, options: ScoreOptions, executor: Executor,
              progress: StartTask, semantic: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Dedup the survivors of pass 1 and write the verdicts, one part per batch that has any; returns the
    stage report (name, seen, dropped) and `computed` (1, or 0 when a finished dedup was reused).
    `semantic`: with semantic dedup, gives the pool's semantic pairs (session_semantic.SemanticPairs), which
    join the candidate groups and go with each job.

    A batch's part is written as soon as every group member in it is back, so only the verdicts of the
    batches whose groups are still open are held (the groups of copies span a bounded stretch of input)."""
    import pyarrow as pa

    if parts.done(DONE):
        report = json.loads(parts.read_table(DONE).schema.metadata[b"report"])
        return {**report, "computed": 0}
    # An executor may form the groups itself (the Ray executor shuffles the keys over its cluster); same result.
    groups = getattr(executor, "candidate_groups", candidate_groups)
    if "semantic" in options.dedup and semantic is None:  # `assay score --no-embed`: there are no vectors
        raise ValueError("semantic dedup needs embeddings; drop --no-embed or the semantic method")
    seen, positions, labels = groups(parts, batches, options)
    pairs = semantic() if semantic is not None else None
    if pairs is not None:
        positions, labels = pairs.merge(positions, labels)
    order = np.argsort(positions, kind="stable")  # ascending already, from dedup_groups.components: cheap
    positions, labels = positions[order], labels[order]
    advance = progress("dedup", len(positions))
    pending = dict(zip(*(a.tolist() for a in np.unique(positions // batch_size, return_counts=True)), strict=True))
    sent: deque[tuple[int, ...]] = deque()  # each job's positions, in job order: the executor keeps it
    by_batch: dict[int, list[dict[str, Any]]] = defaultdict(list)
    dropped = 0
    for result in executor.map(dedup_group, _jobs(parts, batches, batch_size, positions, labels, options, sent, pairs)):
        advance(result["seen"])
        for verdict in result["verdicts"]:
            by_batch[verdict["position"] // batch_size].append(verdict)
            dropped += not verdict["keep"]
        for index, count in Counter(position // batch_size for position in sent.popleft()).items():
            pending[index] -= count
            if not pending[index] and index in by_batch:  # the batch's last member is back: its part is whole
                verdicts = by_batch.pop(index)
                parts.write_table(pa.Table.from_pylist(sorted(verdicts, key=lambda v: v["position"])), PART, index)
    if by_batch:  # every grouped position is in exactly one job: a verdict left here would be lost
        raise RuntimeError(f"dedup verdicts of batches {sorted(by_batch)} were never written")
    report = {"name": "dedup", "seen": seen, "dropped": dropped}
    parts.write_table(pa.table({"done": [True]}).replace_schema_metadata({"report": json.dumps(report)}), DONE)
    return {**report, "computed": 1}


def _jobs(parts: Parts, batches: int, batch_size: int, positions: np.ndarray, labels: np.ndarray,
          options: ScoreOptions, sent: deque[tuple[int, ...]], pairs: Any = None) -> Iterator[DedupJob]:
    """Jobs of whole groups, each group sent once its last member is read, up to `batch_size` samples a job;
    each job's positions are appended to `sent`. `positions` ascend."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from assay.pipeline.engine.screen_pass import PART as SCREEN_PART

    if not len(positions):
        return
    last = np.zeros(labels.max() + 1, dtype=np.int64)
    np.maximum.at(last, labels, positions)
    closing: dict[int, list[int]] = defaultdict(list)  # batch -> the groups whose last member is in it
    for label in np.unique(labels).tolist():
        closing[int(last[label]) // batch_size].append(label)
    open_groups: dict[int, list[tuple[int, str]]] = defaultdict(list)
    ready: list[tuple[int, str]] = []
    for index in range(batches):
        lo, hi = np.searchsorted(positions, [index * batch_size, (index + 1) * batch_size])
        if hi > lo:
            table = parts.read_table(SCREEN_PART, index, columns=["position", "sample"])
            table = table.filter(pc.is_in(table.column("position"), value_set=pa.array(positions[lo:hi])))
            found = table.column("position").to_numpy()
            label_of = labels[np.searchsorted(positions, found)].tolist()
            for position, label, text in zip(found.tolist(), label_of, table.column("sample").to_pylist(),
                                             strict=True):
                open_groups[label].append((position, text))
        for label in closing.get(index, ()):
            ready.extend(open_groups.pop(label))
        if len(ready) >= batch_size or (index == batches - 1 and ready):
            ready.sort()
            job = DedupJob(tuple(p for p, _ in ready), tuple(t for _, t in ready), options)
            if pairs is not None:
                job = replace(job, semantic=pairs.within(job.positions))
            sent.append(job.positions)
            yield job
            ready = []
