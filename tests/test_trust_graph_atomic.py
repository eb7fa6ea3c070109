"""A node killed between two of its writes leaves nothing half-done: re-running it gives the
same pool as a run that was never interrupted (select and apply, the nodes that change
statuses), and Chroma, derived from SQLite, is brought back in line when a session opens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from assay.config import Targets
from assay.graphs.curation import build_curation_graph
from assay.graphs.deps import CurationDeps, RunOptions
from assay.graphs.state import CurationState, checkpoint_serializer
from assay.records import Status
from assay.session import Session
from assay.store import Store
from tests.test_curation_graph import open_session, write_pool


class Killed(BaseException):
    """Stands for SIGKILL: nothing of the node runs after it (BaseException: no handler catches it)."""


async def drive(session: Session, options: RunOptions, saver: InMemorySaver, *, first: bool) -> CurationState:
    """Run the graph (from the start, or on from its last checkpoint, as `assay resume` does)."""
    graph = build_curation_graph(CurationDeps(session=session, options=options)).compile(checkpointer=saver)
    thread = {"configurable": {"thread_id": "t"}, "recursion_limit": 200}
    await graph.ainvoke(CurationState() if first else None, thread)
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

    from assay.db import connect

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
