"""The work behind `assay run` and `assay resume`: the curation graph over a session, checkpointed.

The graph is compiled with LangGraph's SQLite checkpointer in the session folder, one thread per
session, so a killed run continues from its last finished node, and the response cache
answers every LLM call that was already paid for. A review-mode session stops at each gate
and is continued by `assay resume` once `assay review` has decided its items.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.config import Config
from assay.errors import AssayError
from assay.graphs.deps import CurationDeps, RunOptions
from assay.graphs.state import CurationState, checkpoint_serializer
from assay.session import Runtime, Session, is_session

RUN_OPTIONS_META = "run_options"
# LangGraph's checkpoints get their own file in the session folder: its async saver holds
# write transactions open between steps, which would lock the trace out of session.db.
CHECKPOINTS = "checkpoints.db"
RECURSION_LIMIT = 500


@dataclass
class RunOutcome:
    """How a run or resume ended."""

    session_dir: Path
    finished: bool
    waiting_for_review: str | None = None
    state: CurationState | None = None
    spend: dict[str, Any] = field(default_factory=dict)


def start_run(out: Path, *, config: Config, runtime: Runtime, options: RunOptions, emit: Any) -> RunOutcome:
    """Create the session in `out` and run the loop until it stops (or waits for review)."""
    if is_session(out):
        raise AssayError(f"{out} already holds a session; continue it with `assay resume {out}`")
    session = Session.open(out, runtime, config, create=True)
    session.set_meta(RUN_OPTIONS_META, options.model_dump(mode="json"))
    try:
        return asyncio.run(_drive(session, options, emit, resume=False))
    finally:
        session.close()


def resume_run(directory: Path, *, runtime: Runtime, overrides: dict[str, Any], emit: Any) -> RunOutcome:
    """Continue a session's loop from its last checkpoint (or past a review gate)."""
    stored = Session.open_read_only(directory, runtime)
    config_data = stored.config.model_dump()
    options_data = stored.meta(RUN_OPTIONS_META)
    stored.close()
    if options_data is None:
        raise AssayError(f"{directory}: this session was not made by `assay run`; nothing to resume")
    config = Config.model_validate(config_data)
    for dotted, value in overrides.items():
        if value is not None:
            section, key = dotted.split(".")
            setattr(getattr(config, section), key, value)
    session = Session.open(directory, runtime, config, create=False)
    try:
        return asyncio.run(_drive(session, RunOptions.model_validate(options_data), emit, resume=True))
    finally:
        session.close()


async def _drive(session: Session, options: RunOptions, emit: Any, *, resume: bool) -> RunOutcome:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.types import Command

    from assay.graphs.curation import build_curation_graph

    deps = CurationDeps(session=session, options=options, emit=emit)
    thread = {"configurable": {"thread_id": session.id}, "recursion_limit": RECURSION_LIMIT}
    async with aiosqlite.connect(str(Path(session.dir) / CHECKPOINTS)) as checkpoints:
        saver = AsyncSqliteSaver(checkpoints, serde=checkpoint_serializer())
        graph = build_curation_graph(deps).compile(checkpointer=saver)
        snapshot = await graph.aget_state(thread)
        if not resume:
            session.trace.event("run", "curation started", {"options": options.model_dump(mode="json")})
            await graph.ainvoke(CurationState(), thread)
        elif snapshot.next and _interrupts(snapshot):
            session.trace.event("resume", "resumed after review")
            await graph.ainvoke(Command(resume=True), thread)
        elif snapshot.next:
            session.trace.event("resume", f"resumed before {', '.join(snapshot.next)}")
            await graph.ainvoke(None, thread)
        elif snapshot.values:
            emit("note", {"message": "this session already finished; nothing to resume"})
        else:
            session.trace.event("resume", "resumed from the start (no checkpoint)")
            await graph.ainvoke(CurationState(), thread)
        snapshot = await graph.aget_state(thread)
    state = CurationState.model_validate(snapshot.values) if snapshot.values else None
    waiting = next((i.value.get("message") for i in _interrupts(snapshot)), None) if snapshot.next else None
    spend = _spend(session)
    if state is not None and not snapshot.next:
        session.trace.event("stop", f"{state.stop_reason}: {state.stop_message}",
                            {"targets": [t.model_dump() for t in state.targets], "spend": spend})
    return RunOutcome(Path(session.dir), finished=not snapshot.next, waiting_for_review=waiting, state=state, spend=spend)


def _interrupts(snapshot: Any) -> list[Any]:
    return [i for task in snapshot.tasks for i in task.interrupts]


def _spend(session: Session) -> dict[str, Any]:
    row = session.conn.execute(
        "SELECT COUNT(*) AS calls, SUM(outcome = 'cached') AS cached, COALESCE(SUM(prompt_tokens + completion_tokens), 0)"
        " AS tokens, COALESCE(SUM(cost_usd), 0) AS usd FROM llm_calls").fetchone()
    return {"calls": row["calls"], "cached": row["cached"] or 0, "tokens": row["tokens"], "usd": row["usd"]}
