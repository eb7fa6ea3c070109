"""A provider outage never turns into a rejection: a judge or rewrite that failed (after the
gateway's own retries) is recorded as a failure, tried again later in the session, at most
`judge.max_attempts` times, and a sample whose attempts ran out is reported as unjudged,
never dropped as if its quality were low."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core.config import Budget, Config, JudgeSettings, Targets
from assay.pipeline.deps import RunOptions
from assay.session.judgements import judge_attempts, latest_judgements
from assay.llm.transport import Completion, CompletionRequest, TransientError
from assay.core.records import Status
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.curation_world import CurationWorld, blocks
from tests.test_curation_graph import run_graph, write_pool

GATEWAY_TRIES = 5  # llm.max_attempts: the gateway's own retries of one call


@dataclass
class Outage:
    """The curation world, except that the provider fails the first `fail` calls of one agent
    (`judge` or `rewrite`) about samples whose response contains `marker`."""

    marker: str
    agent: str
    fail: int
    world: CurationWorld = field(default_factory=CurationWorld)
    failed: int = 0

    def __call__(self, request: CompletionRequest) -> Completion:
        props = set((request.schema or {}).get("properties", {}))
        agent = "judge" if {"scores", "overall"} <= props else "rewrite" if "changes" in props else "other"
        if agent == self.agent and self.marker in blocks(request).get("response", "") and self.failed < self.fail:
            self.failed += 1
            raise TransientError("503 service unavailable")
        return self.world(request)


def open_with(tmp_path: Path, runtime: Any, targets: Targets, outage: Outage, max_attempts: int = 3) -> Session:
    config = Config(targets=targets, budget=Budget(), judge=JudgeSettings(max_attempts=max_attempts))
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    session.gateway = scripted_gateway(session, ScriptedTransport(default=outage))  # type: ignore[misc]
    return session


def by_response(session: Session, marker: str) -> Any:
    (found,) = [s for s in session.samples.iter() if marker in s.response and s.op == "seed"]
    return found


def rejected_reasons(session: Session) -> dict[str, str]:
    rows = [json.loads(line) for line in (session.dir / "rejected.jsonl").read_text().splitlines()]
    return {r["_assay"]["id"]: r["_assay"]["reason"] for r in rows}


async def test_a_judge_outage_is_retried_and_the_sample_is_judged(tmp_path, runtime) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    # Down for one whole judge call of one sample (every gateway retry of it), then back.
    outage = Outage("Iron oxide", "judge", fail=GATEWAY_TRIES)
    session = open_with(tmp_path, runtime, Targets(size=5, quality_floor=3.0), outage)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)]))
    assert outage.failed == GATEWAY_TRIES and state.exported
    mars = by_response(session, "Iron oxide")
    verdict = latest_judgements(session.conn, [mars.id])[mars.id]
    assert verdict.ok and verdict.overall == 4
    assert judge_attempts(session.conn, [mars.id]) == {mars.id: 1}  # the failure stays on record
    assert "judge_failed" not in (mars.reason or "")
    failed = session.conn.execute("SELECT reason FROM decisions WHERE action = 'judge_failed'").fetchall()
    assert [r[0] for r in failed] == ["llm: 503 service unavailable (after 5 attempts) (attempt 1 of 3)"]


async def test_attempts_run_out_the_sample_is_unjudged_not_rejected(tmp_path, runtime) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    outage = Outage("Iron oxide", "judge", fail=10_000)  # down for this sample all session
    session = open_with(tmp_path, runtime, Targets(size=5, quality_floor=3.0), outage, max_attempts=2)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)]))
    assert outage.failed == 2 * GATEWAY_TRIES  # two attempts, each with the gateway's retries, no more
    mars = by_response(session, "Iron oxide")
    assert judge_attempts(session.conn, [mars.id]) == {mars.id: 2}
    assert mars.status == Status.ACTIVE  # never dropped for a provider's failure
    assert mars.reason == "unjudged:judge_failed_2_of_2"
    assert rejected_reasons(session)[mars.id] == "unjudged:judge_failed_2_of_2"
    assert state.exported and len((session.dir / "curated.jsonl").read_text().splitlines()) == 5


async def test_a_failed_rewrite_is_tried_again_in_a_later_round(tmp_path, runtime) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    outage = Outage("blocks the Sun", "rewrite", fail=GATEWAY_TRIES)  # the eclipse repair fails once
    session = open_with(tmp_path, runtime, Targets(size=19, quality_floor=3.0, coverage=1.0), outage)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], cluster_min=3))
    assert outage.failed == GATEWAY_TRIES
    eclipse = next(s for s in session.samples.iter() if "solar eclipse" in s.messages[0].content and s.op == "seed")
    actions = [r[0] for r in session.conn.execute(
        "SELECT action FROM decisions WHERE agent = 'rewriter' AND sample_id = ? ORDER BY id", (eclipse.id,))]
    assert actions == ["rewrite_failed", "rewrite_accepted"]
    assert eclipse.reason.startswith("replaced_by:")
    assert state.stop_reason == "targets_met", state.stop_message
