"""A session killed at any node boundary of the curation graph resumes to the same export.

The kill is simulated in-process at the checkpointer, the one place every node boundary
passes through: after the k-th durable write (a finished node's pending writes, or the
checkpoint after it) the "process" dies — that write landed, nothing after it does. The
session is then closed and reopened from disk and `assay resume`'s driver continues it.
Each attempt dies after its first durable write, so one chain of attempts walks through
every boundary of a whole run: after a node finished but before its checkpoint (the case
where LangGraph reports an empty `next`), and after each checkpoint.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from assay.core.config import Config, Targets
from assay.session.embeddings import Embedder
from assay.pipeline.deps import RunOptions
from assay.cli.run import drive, export_missing
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.conftest import fixed_runtime
from tests.curation_world import CurationWorld
from tests.test_curation_graph import write_pool

pytestmark = pytest.mark.slow
EXPORTS = ("curated.jsonl", "rejected.jsonl", "lineage.jsonl")
CONFIG = Config(targets=Targets(size=19, quality_floor=3.0, coverage=1.0))


class Killed(BaseException):
    """The simulated SIGKILL: a BaseException, so no `except Exception` in a node swallows it."""


class KillSwitch:
    """Counts durable checkpointer writes; after `after` of them, the 'process' is dead.

    LangGraph saves a node's writes in the background while it saves the checkpoint, so
    the writes are serialised here: a write that lands first kills the process before
    the other one can land, as a real kill at that moment would.
    """

    def __init__(self) -> None:
        self.after: int | None = None
        self.writes: list[str] = []
        self.lock: asyncio.Lock | None = None

    def restart(self) -> None:
        """A new process: nothing written yet (each attempt runs its own event loop)."""
        self.writes.clear()
        self.lock = None

    def wrap(self, name: str, real: Any) -> Any:
        switch = self

        async def guarded(self_: Any, *args: Any, **kwargs: Any) -> Any:
            switch.lock = switch.lock or asyncio.Lock()
            async with switch.lock:
                if switch.dead:
                    raise Killed(name)
                result = await real(self_, *args, **kwargs)
                switch.writes.append(name)
            if switch.dead:
                raise Killed(name)
            return result

        return guarded

    @property
    def dead(self) -> bool:
        return self.after is not None and len(self.writes) >= self.after


@pytest.fixture
def kill_switch(monkeypatch: pytest.MonkeyPatch) -> KillSwitch:
    switch = KillSwitch()
    for name in ("aput", "aput_writes"):
        monkeypatch.setattr(AsyncSqliteSaver, name, switch.wrap(name, getattr(AsyncSqliteSaver, name)))
    # One embedding model for the whole test: each attempt opens a fresh Session (as a new
    # process would), and loading the model ~50 times would dominate the runtime.
    loaded: dict[str, Any] = {}
    real_load = Embedder._load

    def shared_load(self: Embedder) -> Any:
        if self.model_name not in loaded:
            loaded[self.model_name] = real_load(self)
        self._model = loaded[self.model_name]
        return self._model

    monkeypatch.setattr(Embedder, "_load", shared_load)
    return switch


def attempt(directory: Path, pool: Path, *, first: bool) -> Any:
    """One process's life: open (or create) the session, drive the graph, close."""
    runtime = fixed_runtime()
    session = Session.open(directory, runtime, CONFIG, create=first)
    session.gateway = scripted_gateway(session, ScriptedTransport(default=CurationWorld()))  # type: ignore[misc]
    try:
        return asyncio.run(drive(session, RunOptions(inputs=[str(pool)], cluster_min=3), lambda kind, data: None,
                                 resume=not first))
    finally:
        session.close()


def exports(directory: Path) -> dict[str, list[str]]:
    return {name: sorted((directory / name).read_text(encoding="utf-8").splitlines()) for name in EXPORTS}


def test_a_kill_at_every_node_boundary_resumes_to_the_same_export(tmp_path: Path, kill_switch: KillSwitch) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    whole = attempt(tmp_path / "whole", pool, first=True)
    assert whole.finished and whole.state.stop_reason == "targets_met"
    # One repair round and one expand round (the planner's order is its own), so every node runs.
    assert sorted(r.action for r in whole.state.history) == ["expand", "repair"]
    boundaries = len(kill_switch.writes)
    assert boundaries > 30  # every node of a repair round and an expand round, twice each

    killed = tmp_path / "killed"
    kill_switch.after = 1
    for number in range(boundaries + 5):
        kill_switch.restart()
        try:
            outcome = attempt(killed, pool, first=number == 0)
        except Killed:
            continue
        break
    else:
        pytest.fail("the session never finished")
    assert not export_missing(killed), f"resume reported an end after {number} kills, but wrote no export"
    assert outcome.finished
    # One durable write per attempt: every boundary was a kill point (none skipped by a resume).
    assert number >= boundaries - 2, f"only {number} kills for {boundaries} boundaries"
    assert exports(killed) == exports(tmp_path / "whole")

    # Ended, but an export file is gone: resume writes it again rather than calling the session finished.
    (killed / "curated.jsonl").unlink()
    kill_switch.after = None
    again = attempt(killed, pool, first=False)
    assert again.finished and exports(killed) == exports(tmp_path / "whole")
    # A finished session resumes to nothing: no step runs again.
    kill_switch.restart()
    assert attempt(killed, pool, first=False).finished and kill_switch.writes == []
