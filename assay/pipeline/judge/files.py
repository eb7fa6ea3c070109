"""Judging a file (`assay judge`): judge every record (or pair), write it back with `_assay`, summarise.

Pointwise, each distinct sample gets one rubric verdict (and, with --verify, a factuality
from its verified atomic claims); pairwise, each record's two responses are compared in
both orders (`judge_pairs`). Calls run concurrently (the gateway bounds how many at once)
in chunks, so progress advances and a spent budget stops the run cleanly: what was judged
is written, the rest is marked. Every call is traced, with one decision per sample or pair.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict

from assay.agents.base import AgentContext
from assay.core.concurrency import gather_or_stop, run_chunked
from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.formats import sample_to_record
from assay.llm.factory import build_gateway, check_prices
from assay.pipeline.intake.ingest import ReadResult, read_inputs
from assay.pipeline.judge.pairs import Pair, pairwise_outcome, read_pairs
from assay.pipeline.judge.verify import VerifyOptions, reference_query, verification_json, verify_summary
from assay.pipeline.plugins import judge_function
from assay.pipeline.progress import StartTask, no_progress
from assay.llm.transport import Transport
from assay.core.readers import container_of_name
from assay.pipeline.screen.scored_output import ASSAY_KEY
from assay.session.session import Runtime, Session, session_for_output
from assay.trace.log import Decision
from assay.core.writers import write_records

CHUNK_PER_SLOT = 4  # calls queued per concurrency slot: keeps the gateway busy between progress updates


class JudgeReport(TypedDict, total=False):
    """What `run_judge` returns: counts, the mode's own figures, the spend, and where things went."""

    mode: Literal["pointwise", "pairwise"]
    total: int
    judged: int
    failed: int
    not_reached: int
    stopped: str | None
    written: int
    errors: dict[str, int]
    # pointwise only
    mean_overall: float | None
    histogram: dict[int, int]
    criteria: dict[str, float | None]
    issues: dict[str, int]
    verify: dict[str, Any] | None
    # pairwise only
    winners: dict[str, int]
    labelled: int
    label_accuracy: float | None
    # spend (cached answers cost nothing) and provenance
    calls: int
    cache_hits: int
    tokens: int
    cost_usd: float
    path: str
    out: str
    session: str
    model: str
    dry_run: bool
    seconds: float


def run_judge(path: Path, out: Path, *, config: Config, runtime: Runtime, session_dir: Path | None, pairwise: bool,
              limit: int | None, progress: StartTask = no_progress, verify: VerifyOptions | None = None,
              transport: Transport | None = None, fields: FieldMap = NO_MAPPING) -> JudgeReport:
    """Judge one file and write the output; returns the summary the CLI shows.

    `progress` starts a task per step and advances it per sample or pair judged; `transport`
    replaces the configured model (tests pass a scripted one).
    """
    started = time.perf_counter()
    max_record_bytes = int(config.store.max_record_mb * 1e6)
    # Inputs (and references) are checked before the session exists: a bad record leaves nothing behind.
    if pairwise:
        if verify is not None:
            raise AssayError("--verify checks single responses; it does not combine with --pairwise")
        if fields:  # a pair file has its own names (input/output_1/output_2 …), not a sample's
            raise AssayError("--field maps a sample file's columns; it does not combine with --pairwise")
        pairs = read_pairs(path, limit=limit, max_record_bytes=max_record_bytes)
    else:
        read = read_inputs([path], skip_invalid=False, max_record_bytes=max_record_bytes, fields=fields)
    query = reference_query(verify, config, runtime.env) if verify is not None and verify.references else None
    check_prices(config, transport)  # a USD budget on an unpriced model: refused before the session exists
    judge_function(config.plugins)  # an unknown or broken judge plugin fails before any work
    session = session_for_output(out, session_dir, runtime, config, command="judge")
    config = session.config  # the session's recipe, with this command's own settings laid over it
    try:
        if transport is not None:
            session.gateway = build_gateway(config, session.trace, session.conn, seed=config.llm.seed, transport=transport)
        ctx = AgentContext.for_session(session, "judge")
        chunk = max(1, config.llm.concurrency) * CHUNK_PER_SLOT
        if pairwise:
            report = _run_pairwise(pairs, out, ctx, session, chunk, progress)
        else:
            report = _run_pointwise(read, out, ctx, session, limit, chunk, progress, config, verify, query)
        report.update(spend(session, report.pop("call_ids")))
        report.update(path=str(path), out=str(out), session=str(session.dir), model=ctx.model,
                      dry_run=config.dry_run, seconds=time.perf_counter() - started)
        session.trace.event("judge", f"judged {report['judged']} of {report['total']} from {path.name}",
                            {k: v for k, v in report.items() if k in ("total", "judged", "failed", "not_reached", "stopped")})
        return report
    finally:
        session.close()


def _run_pointwise(read: ReadResult, out: Path, ctx: AgentContext, session: Session, limit: int | None, chunk: int,
                   progress: StartTask, config: Config, verify: VerifyOptions | None, query: Any) -> dict[str, Any]:
    from assay.agents.injection import detect_injection
    from assay.agents.verifier import verify_sample

    records = read.records[:limit] if limit is not None else read.records
    samples = list({s.id: s for s in records}.values())
    rubric = config.judge.rubric
    judge_sample = judge_function(config.plugins, code_criterion=config.judge.code_criterion)
    decomposer = AgentContext.for_session(session, "decomposer")

    async def work(sample: Any) -> tuple[Any, Any]:
        if verify is None:
            return await judge_sample(ctx, sample, rubric), None
        return tuple(await gather_or_stop([judge_sample(ctx, sample, rubric),
                                              verify_sample(decomposer, ctx, sample, query=query, k=verify.k)]))

    advance = progress("judging" + (" + verifying claims" if verify else ""), len(samples))
    outcomes, stopped = asyncio.run(run_chunked(samples, work, chunk, lambda: advance(1)))
    by_id = {s.id: o or (None, None) for s, o in zip(samples, outcomes, strict=True)}
    session.trace.decisions([d for i, (j, v) in by_id.items() for d in _decisions(i, j, v)])
    shape = read.files[0].shape
    rows = []
    for sample in records:
        judged, verified = by_id[sample.id]
        verdict = judged.value.model_dump(mode="json") if judged is not None and judged.ok else None
        error = (judged.error if judged is not None else f"not judged: {stopped}") if verdict is None else None
        row = {k: v for k, v in sample_to_record(sample, shape.format).items() if k != ASSAY_KEY}
        every_turn = "\n".join(m.content for m in sample.messages)
        row[ASSAY_KEY] = {"id": sample.id, "judge": verdict, "error": error, "injection": detect_injection(every_turn)}
        if verify is not None:
            row[ASSAY_KEY]["verify"] = verification_json(verified, stopped)
        rows.append(row)
    results = [j for j, _ in by_id.values()]
    verdicts = [r.value for r in results if r is not None and r.ok]
    verifications = [v for _, v in by_id.values() if v is not None]
    return {
        "mode": "pointwise", "total": len(samples), "written": write_records(out, rows, container_of_name(out)),
        "judged": len(verdicts), "failed": sum(r is not None and not r.ok for r in results),
        "not_reached": sum(r is None for r in results), "stopped": stopped,
        "call_ids": [i for r in results if r is not None for i in r.call_ids] + [i for v in verifications for i in v.call_ids],
        "mean_overall": _mean([v.overall for v in verdicts]),
        "histogram": dict(sorted(Counter(min(5, max(1, int(v.overall + 0.5))) for v in verdicts).items())),
        # The rubric's criteria, then any added per sample (code_correctness where a response holds code).
        "criteria": {name: _mean([v.scores[name] for v in verdicts if name in v.scores])
                     for name in dict.fromkeys([*(c.name for c in rubric), *(n for v in verdicts for n in v.scores)])},
        "issues": dict(Counter(i.type for v in verdicts for i in v.issues).most_common()),
        "errors": dict(Counter(r.error.split(":")[0][:60] for r in results if r is not None and not r.ok).most_common(5)),
        "verify": verify_summary(verifications) if verify is not None else None,
    }


def _decisions(sample_id: str, judged: Any, verified: Any) -> list[Decision]:
    made = []
    if judged is not None and not judged.ok:
        made.append(Decision(sample_id, "judge", "judge_failed", judged.error, {}, list(judged.call_ids)))
    elif judged is not None:
        verdict = judged.value
        issues = ", ".join(i.type for i in verdict.issues) or "none"
        made.append(Decision(sample_id, "judge", "judged", f"overall {verdict.overall:g}; issues: {issues}",
                             {**verdict.scores, "overall": verdict.overall}, list(judged.call_ids)))
    if verified is not None and not verified.ok:
        made.append(Decision(sample_id, "verifier", "verify_failed", verified.error, {}, list(verified.call_ids)))
    elif verified is not None:
        supported = sum(c.label == "supported" for c in verified.checks)
        reason = f"{supported} of {len(verified.checks)} claims supported" if verified.checks else "no factual claims"
        scores = {"factuality": verified.factuality} if verified.factuality is not None else {}
        made.append(Decision(sample_id, "verifier", "verified", reason, scores, list(verified.call_ids)))
    return made


def _run_pairwise(pairs: list[Pair], out: Path, ctx: AgentContext, session: Session, chunk: int,
                  progress: StartTask) -> dict[str, Any]:
    from assay.agents.judge import judge_pair

    async def work(pair: Pair) -> Any:
        return await judge_pair(ctx, pair.instruction, pair.response_a, pair.response_b, sample_ids=pair.ids)

    advance = progress("judging pairs (both orders)", len(pairs))
    results, stopped = asyncio.run(run_chunked(pairs, work, chunk, lambda: advance(1)))
    rows, decisions, report = pairwise_outcome(pairs, results, stopped)
    session.trace.decisions(decisions)
    report["written"] = write_records(out, rows, container_of_name(out))
    return report


def spend(session: Session, call_ids: Sequence[int]) -> dict[str, Any]:
    """Calls made, cache hits, tokens and cost of these traced calls (cached answers cost nothing)."""
    totals = {"calls": 0, "cache_hits": 0, "tokens": 0, "cost_usd": 0.0}
    ids = list(call_ids)
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        marks = ",".join("?" * len(part))
        for outcome, tokens, cost in session.conn.execute(
            f"SELECT outcome, prompt_tokens + completion_tokens, cost_usd FROM llm_calls WHERE id IN ({marks})", part,
        ):
            totals["cache_hits" if outcome == "cached" else "calls"] += 1
            totals["tokens"] += tokens or 0
            totals["cost_usd"] += cost or 0.0
    return totals


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
