"""A node killed between two of its writes leaves nothing half-done: re-running it gives the
same pool as a run that was never interrupted (select and apply, the nodes that change
statuses), and Chroma, derived from SQLite, is brought back in line when a session opens."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from assay.core.config import Targets
from assay.graphs.curation import build_curation_graph
from assay.graphs.state import CurationState, checkpoint_serializer
from assay.pipeline.deps import CurationDeps, RunOptions
from assay.report.write import write_report
from assay.llm.transport import FatalError
from assay.session.proposals import proposals
from assay.core.records import Status
from assay.session.session import Session
from assay.session.store import Store
from tests.curation_world import CurationWorld, _words
from tests.test_curation_graph import open_session, write_pool


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the node runs after it (BaseException: no handler catches it)."""


async def drive(session: Session, options: RunOptions, saver: InMemorySaver, *, first: bool) -> CurationState:
    """Run the graph (from the start, or on from its last checkpoint, as `assay resume` does)."""
    graph = build_curation_graph().compile(checkpointer=saver)
    deps = CurationDeps(session=session, options=options, write_report=write_report)
    thread = {"configurable": {"thread_id": "t"}, "recursion_limit": 200}
    await graph.ainvoke(CurationState() if first else None, thread, context=deps)
    return CurationState.model_validate((await graph.aget_state(thread)).values)


def kill_on(monkeypatch: pytest.MonkeyPatch, when: Any) -> list[int]:
    """Make `Store.set_status` die (once) on the call for which `when(status, reason)` holds."""
    real = Store.set_status
    fired: list[int] = []

    def set_status(self: Store, ids: Any, status: Status, reason: str | None = None) -> None:
        if not fired and when(status, reason):
            fired.append(1)
            raise Killed()
        real(self, ids, status, reason)

    monkeypatch.setattr(Store, "set_status", set_status)
    return fired


def pool_state(session: Session) -> dict[str, tuple[str, str | None]]:
    return {s.id: (s.status.value, s.reason) for s in session.samples.iter()}


def chroma_state(session: Session) -> dict[str, tuple[str, str | None]]:
    got = session.store.collection.get(include=["metadatas"])
    return {i: (m["status"], m.get("reason")) for i, m in zip(got["ids"], got["metadatas"], strict=True)}


async def killed_and_resumed(tmp_path: Path, runtime: Any, targets: Targets, when: Any, **options: Any) -> Session:
    tmp_path.mkdir()
    pool = write_pool(tmp_path / "pool.jsonl")
    session, _ = open_session(tmp_path, runtime, targets)
    run_options = RunOptions(inputs=[str(pool)], **options)
    saver = InMemorySaver(serde=checkpoint_serializer())
    with pytest.MonkeyPatch.context() as patch:
        fired = kill_on(patch, when)
        with pytest.raises(Killed):
            await drive(session, run_options, saver, first=True)
    assert fired, "the injected kill never happened"
    state = await drive(session, run_options, saver, first=False)
    assert state.exported
    return session


async def uninterrupted(tmp_path: Path, runtime: Any, targets: Targets, **options: Any) -> Session:
    tmp_path.mkdir()
    pool = write_pool(tmp_path / "pool.jsonl")
    session, _ = open_session(tmp_path, runtime, targets)
    state = await drive(session, RunOptions(inputs=[str(pool)], **options), InMemorySaver(serde=checkpoint_serializer()),
                        first=True)
    assert state.exported
    return session


async def test_a_kill_inside_select_changes_nothing(tmp_path, runtime) -> None:
    targets = Targets(size=5, quality_floor=3.0)
    # Dies after select has marked its 5 samples SELECTED, before it writes the drops.
    killed = await killed_and_resumed(tmp_path / "killed", runtime, targets,
                                      lambda status, reason: status == Status.DROPPED)
    clean = await uninterrupted(tmp_path / "clean", runtime, targets)
    assert sum(s == "selected" for s, _ in pool_state(killed).values()) == 5
    assert pool_state(killed) == pool_state(clean)
    assert len((killed.dir / "curated.jsonl").read_text().splitlines()) == 5
    assert chroma_state(killed) == pool_state(killed)
    drops = killed.conn.execute("SELECT COUNT(*) FROM decisions WHERE agent = 'select'").fetchone()[0]
    assert drops == clean.conn.execute("SELECT COUNT(*) FROM decisions WHERE agent = 'select'").fetchone()[0]


async def test_a_kill_inside_apply_never_leaves_an_original_beside_its_rewrite(tmp_path, runtime) -> None:
    targets = Targets(size=19, quality_floor=3.0, coverage=1.0)
    # Dies after apply has stored the first rewrite, before it drops the rewrite's original.
    killed = await killed_and_resumed(tmp_path / "killed", runtime, targets,
                                      lambda status, reason: (reason or "").startswith("replaced_by:"), cluster_min=3)
    clean = await uninterrupted(tmp_path / "clean", runtime, targets, cluster_min=3)
    samples = {s.id: s for s in killed.samples.iter()}
    rewrites = [s for s in samples.values() if s.op == "rewrite"]
    assert len(rewrites) == 3
    for rewrite in rewrites:
        assert samples[rewrite.parent_ids[0]].reason == f"replaced_by:{rewrite.id}"
    assert pool_state(killed) == pool_state(clean)
    applied = "SELECT COUNT(*) FROM decisions WHERE action LIKE '%_applied'"
    assert killed.conn.execute(applied).fetchone()[0] == clean.conn.execute(applied).fetchone()[0]
    assert chroma_state(killed) == pool_state(killed)


def test_nested_blocks_are_one_transaction_and_chroma_writes_wait_for_its_commit(tmp_path) -> None:
    import sqlite3

    from assay.session.db import connect

    conn = connect(tmp_path / "s.db")
    other = sqlite3.connect(tmp_path / "s.db")  # another process's view
    ran: list[str] = []
    with pytest.raises(Killed), conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
        with conn:  # a helper's own block (the trace, the sample table) joins the outer one
            conn.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
            conn.after_commit(lambda: ran.append("b"))
        assert other.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0  # nothing committed yet
        raise Killed()
    assert conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0 and ran == []
    with conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('c', '3')")
        try:
            with conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('d', '4')")
                conn.after_commit(lambda: ran.append("d"))
                raise ValueError("an inner step fails and its caller carries on")
        except ValueError:
            pass
        conn.after_commit(lambda: ran.append("c"))
        assert ran == []
    assert [r[0] for r in other.execute("SELECT key FROM meta")] == ["c"] and ran == ["c"]



@dataclass
class FlakyWorld(CurationWorld):
    """The curation world with varied samples, whose provider fails the first synthesizer call of each round once:
    asked again later (by a re-run of the job), the same request succeeds, as a real provider's would."""

    armed: set[int] = field(default_factory=set)
    fail_next: bool = False

    def __call__(self, request: Any) -> Any:
        props = set((request.schema or {}).get("properties", {}))
        if self.fail_next and props == {"instruction"}:
            self.fail_next = False
            raise FatalError("the provider failed this once")
        return super().__call__(request)

    def _answer(self, request: Any, props: set[str]) -> tuple[str, Any]:
        kind, answer = super()._answer(request, props)
        if kind in ("instruction", "response"):  # distinct enough that dedup keeps them
            words = " ".join(_words(json.dumps(request.messages) + kind, 24))
            answer = {kind: f"{answer[kind]} Also: {words}."}
        return kind, answer


def expand_items(session: Session) -> list[tuple[int | None, str | None, str | None]]:
    return [(p.round, p.parent_id, p.sample_id) for p in proposals(session.conn, kind="expand")]


async def test_a_kill_between_two_expansion_jobs_reruns_only_the_unfinished_ones(tmp_path, runtime) -> None:
    import assay.graphs.expansion

    targets = Targets(size=25, quality_floor=3.0, coverage=1.0)
    real = assay.graphs.expansion.expand
    runs: dict[str, tuple[Session, FlakyWorld]] = {}
    for name in ("clean", "killed"):
        (tmp_path / name).mkdir()
        pool = write_pool(tmp_path / name / "pool.jsonl")
        world = FlakyWorld()
        session, _ = open_session(tmp_path / name, runtime, targets, world=world)
        runs[name] = (session, world)
        options = RunOptions(inputs=[str(pool)], cluster_min=3)
        saver = InMemorySaver(serde=checkpoint_serializer())
        jobs: dict[int, int] = {}
        killed: list[int] = []

        async def job(agents: Any, *args: Any, world: FlakyWorld = world, jobs: dict = jobs, killed: list = killed,
                      kill: bool = name == "killed", **kwargs: Any) -> Any:
            round = agents.synthesizer.round
            jobs[round] = jobs.get(round, 0) + 1
            if round not in world.armed:
                world.armed.add(round)
                world.fail_next = True
            if kill and not killed and jobs[round] == 2:  # the round's first job is committed; this one dies
                killed.append(round)
                raise Killed()
            return await real(agents, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(assay.graphs.expansion, "expand", job)
            if name == "killed":
                with pytest.raises(Killed):
                    await drive(session, options, saver, first=True)
                assert [r for r, _, _ in expand_items(session)].count(killed[0]) > 0, "nothing of the round committed"
            state = await drive(session, options, saver, first=name == "clean")
        assert state.exported
    (clean, clean_world), (killed_session, killed_world) = runs["clean"], runs["killed"]
    assert expand_items(killed_session) == expand_items(clean)
    assert killed_world.asked == clean_world.asked  # no call the uninterrupted run did not make
    assert pool_state(killed_session) == pool_state(clean)
    for name in ("curated.jsonl", "rejected.jsonl"):
        assert (killed_session.dir / name).read_text() == (clean.dir / name).read_text()


async def test_a_kill_inside_repair_redoes_only_the_samples_not_done(tmp_path, runtime) -> None:
    import assay.agents.rewriter

    targets = Targets(size=19, quality_floor=3.0, coverage=1.0)
    real = assay.agents.rewriter.repair
    runs: dict[str, tuple[Session, CurationWorld]] = {}
    for name in ("clean", "killed"):
        (tmp_path / name).mkdir()
        pool = write_pool(tmp_path / name / "pool.jsonl")
        session, world = open_session(tmp_path / name, runtime, targets)
        runs[name] = (session, world)
        options = RunOptions(inputs=[str(pool)], cluster_min=3)
        saver = InMemorySaver(serde=checkpoint_serializer())
        if name == "clean":
            await drive(session, options, saver, first=True)
            continue
        started: list[str] = []

        async def repair(*args: Any, session: Session = session, started: list = started, **kwargs: Any) -> Any:
            started.append(args[2].id)
            if len(started) > 1:  # dies once the first repair of the round has written its decision
                while not session.conn.execute("SELECT 1 FROM decisions WHERE agent = 'rewriter'").fetchone():
                    await asyncio.sleep(0.01)
                raise Killed()
            return await real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(assay.agents.rewriter, "repair", repair)
            with pytest.raises(Killed):
                await drive(session, options, saver, first=True)
        state = await drive(session, options, saver, first=False)
        assert state.exported
    (clean, clean_world), (killed, killed_world) = runs["clean"], runs["killed"]
    decided = "SELECT sample_id, action FROM decisions WHERE agent = 'rewriter' ORDER BY sample_id, action"
    assert [tuple(r) for r in killed.conn.execute(decided)] == [tuple(r) for r in clean.conn.execute(decided)]
    repairs = [(p.parent_id, p.sample_id) for p in proposals(killed.conn, kind="repair")]
    assert len(repairs) == 3 and repairs == [(p.parent_id, p.sample_id) for p in proposals(clean.conn, kind="repair")]
    assert killed_world.asked == clean_world.asked
    assert pool_state(killed) == pool_state(clean)
    assert (killed.dir / "curated.jsonl").read_text() == (clean.dir / "curated.jsonl").read_text()
