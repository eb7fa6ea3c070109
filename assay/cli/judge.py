"""The work behind `assay judge`: judge every record (or pair), write it back with `_assay`, summarise.

Pointwise, each distinct sample gets one rubric verdict (and, with --verify, a factuality
from its verified atomic claims); pairwise, each record's two responses are compared in
both orders (`judge_pairs`). Calls run concurrently (the gateway bounds how many at once)
in chunks, so progress advances and a spent budget stops the run cleanly: what was judged
is written, the rest is marked. Every call is traced, with one decision per sample or pair.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.agents.base import AgentContext
from assay.core.concurrency import gather_or_stop, run_chunked
from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.formats import sample_to_record
from assay.llm.factory import build_gateway, check_prices
from assay.pipeline.ingest import ReadResult, read_inputs
from assay.pipeline.judge_pairs import Pair, pairwise_outcome, read_pairs
from assay.llm.transport import Transport
from assay.core.readers import container_of_name
from assay.pipeline.scored_output import ASSAY_KEY
from assay.session.session import Runtime, Session, session_for_output
from assay.trace.log import Decision
from assay.core.writers import write_records

CHUNK_PER_SLOT = 4  # calls queued per concurrency slot: keeps the gateway busy between progress updates


@dataclass(frozen=True)
class VerifyOptions:
    """--verify: where reference passages come from (a Chroma folder or server URL), and how many per claim."""

    references: str | None = None
    collection: str | None = None
    k: int = 3




def run_judge(path: Path, out: Path, *, config: Config, runtime: Runtime, session_dir: Path | None, pairwise: bool,
              limit: int | None, progress: Any, verify: VerifyOptions | None = None,
              transport: Transport | None = None) -> dict[str, Any]:
    """Judge one file and write the output; returns the summary the CLI shows.

    `transport` replaces the configured model (tests pass a scripted one).
    """
    started = time.perf_counter()
    max_record_bytes = int(config.store.max_record_mb * 1e6)
    # Inputs (and references) are checked before the session exists: a bad record leaves nothing behind.
    if pairwise:
        if verify is not None:
            raise AssayError("--verify checks single responses; it does not combine with --pairwise")
        pairs = read_pairs(path, limit=limit, max_record_bytes=max_record_bytes)
    else:
        read = read_inputs([path], skip_invalid=False, max_record_bytes=max_record_bytes)
    query = reference_query(verify, config) if verify is not None and verify.references else None
    check_prices(config, transport)  # a USD budget on an unpriced model: refused before the session exists
    session = session_for_output(out, session_dir, runtime, config)
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
                   progress: Any, config: Config, verify: VerifyOptions | None, query: Any) -> dict[str, Any]:
    from assay.agents.injection import detect_injection
    from assay.agents.judge import judge_sample
    from assay.agents.verifier import verify_sample

    records = read.records[:limit] if limit is not None else read.records
    samples = list({s.id: s for s in records}.values())
    rubric = config.judge.rubric
    decomposer = AgentContext.for_session(session, "decomposer")

    async def work(sample: Any) -> tuple[Any, Any]:
        if verify is None:
            return await judge_sample(ctx, sample, rubric), None
        return tuple(await gather_or_stop([judge_sample(ctx, sample, rubric),
                                              verify_sample(decomposer, ctx, sample, query=query, k=verify.k)]))

    task = progress.add_task("judging" + (" + verifying claims" if verify else ""), total=len(samples))
    outcomes, stopped = asyncio.run(run_chunked(samples, work, chunk, lambda: progress.advance(task)))
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
            row[ASSAY_KEY]["verify"] = _verification_json(verified, stopped)
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
        "criteria": {c.name: _mean([v.scores[c.name] for v in verdicts]) for c in rubric},
        "issues": dict(Counter(i.type for v in verdicts for i in v.issues).most_common()),
        "errors": dict(Counter(r.error.split(":")[0][:60] for r in results if r is not None and not r.ok).most_common(5)),
        "verify": _verify_summary(verifications) if verify is not None else None,
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


def _verification_json(verified: Any, stopped: str | None) -> dict[str, Any]:
    if verified is None:
        return {"factuality": None, "claims": [], "error": f"not verified: {stopped}"}
    return {"factuality": verified.factuality, "error": verified.error,
            "claims": [{"claim": c.claim, "label": c.label, "reason": c.reason} for c in verified.checks]}


def _verify_summary(verifications: Sequence[Any]) -> dict[str, Any]:
    done = [v for v in verifications if v.ok]
    return {"verified": sum(v.factuality is not None for v in done), "no_claims": sum(not v.checks for v in done),
            "failed": len(verifications) - len(done), "mean_factuality": _mean([v.factuality for v in done if v.checks]),
            "labels": dict(Counter(c.label for v in done for c in v.checks))}


def _run_pairwise(pairs: list[Pair], out: Path, ctx: AgentContext, session: Session, chunk: int,
                  progress: Any) -> dict[str, Any]:
    from assay.agents.judge import judge_pair

    async def work(pair: Pair) -> Any:
        return await judge_pair(ctx, pair.instruction, pair.response_a, pair.response_b, sample_ids=pair.ids)

    task = progress.add_task("judging pairs (both orders)", total=len(pairs))
    results, stopped = asyncio.run(run_chunked(pairs, work, chunk, lambda: progress.advance(task)))
    rows, decisions, report = pairwise_outcome(pairs, results, stopped)
    session.trace.decisions(decisions)
    report["written"] = write_records(out, rows, container_of_name(out))
    return report


def reference_query(options: VerifyOptions, config: Config) -> Any:
    """A query function over the user's reference collection (a Chroma folder or server URL).

    Queries are embedded with assay's embedder (all-MiniLM-L6-v2 by default, the same model
    as Chroma's default), so the collection must have been built with that model.
    """
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    from assay.agents.verifier import chroma_query
    from assay.session.embeddings import Embedder
    from assay.session.store import chroma_client

    target = str(options.references)
    if target.startswith(("http://", "https://")):
        client = chroma_client(Path("."), target)
    elif Path(target).is_dir():
        client = chromadb.PersistentClient(path=target, settings=Settings(anonymized_telemetry=False))
    else:
        raise AssayError(f"{target}: not a Chroma folder (nor an http(s) URL of a Chroma server)")
    names = sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
    name = options.collection or (names[0] if len(names) == 1 else None)
    if name not in names:
        raise AssayError(f"{target}: pick a collection with --collection: {', '.join(names) or 'it holds none'}")
    embedder = Embedder(config.store.embedding_model, device=config.store.device, batch_size=config.store.embedding_batch_size)
    return chroma_query(client.get_collection(name, embedding_function=None), embed=embedder.encode)


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
