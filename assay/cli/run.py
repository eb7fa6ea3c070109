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

from assay.core.config import Config
from assay.core.errors import AssayError, RunInterrupted
from assay.graphs.state import CurationState, checkpoint_serializer
from assay.pipeline.deps import CurationDeps, RunOptions
from assay.session.session import Runtime, Session, is_session

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
        raise AssayError(f"{out} already holds a session; continue it with `assay resume {out}`, "
                         f"or remove it with `rm -r {out}` to start again")
    from assay.pipeline.plugins import check_plugins

    check_plugins(config.plugins, options.selection)  # a bad plugin fails before the session folder exists
    session = Session.open(out, runtime, config, create=True)
    session.set_meta(RUN_OPTIONS_META, options.model_dump(mode="json"))
    return _run(session, options, emit, resume=False)


def resume_run(directory: Path, *, runtime: Runtime, overrides: dict[str, Any], emit: Any) -> RunOutcome:
    """Continue a session's loop from its last checkpoint (or past a review gate).

    The flags given to `assay resume` (`overrides`, dotted keys) are the only way a session's
    stored recipe changes.
    """
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
    from pydantic import ValidationError

    try:
        options = RunOptions.model_validate(options_data)
    except ValidationError as err:  # e.g. the selector plugin it was started with is no longer installed
        first = err.errors()[0]
        raise AssayError(f"{directory}: cannot resume: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    from assay.cli.options import check_llm_engine, warn_embedded_judge

    check_llm_engine(config, overrides.get("llm.ray_address"))  # the session's engine, after --engine
    session = Session.open(directory, runtime, config, create=False, set_recipe=True)
    # Once the session is ours: a resume refused (another writer holds it) says only why.
    warn_embedded_judge(config)  # the session's model, after --model: as `run`, `judge` and `expand` say it
    return _run(session, options, emit, resume=True)


def _run(session: Session, options: RunOptions, emit: Any, *, resume: bool) -> RunOutcome:
    """Drive the graph to its end, saying where the session stopped when it is interrupted or fails."""
    position = Position()
    try:
        return asyncio.run(drive(session, options, emit, resume=resume, position=position))
    except KeyboardInterrupt:
        raise RunInterrupted(f"interrupted: {session.dir} stopped {position.where()}; "
                             f"continue it with `assay resume {session.dir}`") from None
    except AssayError as err:
        raise AssayError(f"{err} — {session.dir} stopped {position.where()}; once that is fixed, continue it with "
                        f"`assay resume {session.dir}`, or remove it with `rm -r {session.dir}`") from None
    except Exception:
        session.runtime.note(f"{session.dir} stopped {position.where()}; once the error below is fixed, continue it "
                             f"with `assay resume {session.dir}`, or remove it with `rm -r {session.dir}`")
        raise
    finally:
        session.close()


@dataclass
class Position:
    """Where the graph is, for the message when a run stops early: the last node that finished
    in this process, else the one a resume started at."""

    after: str | None = None
    before: str | None = None

    def where(self) -> str:
        """Words for where the session stopped."""
        if self.after:
            return f"after its {self.after} step"
        return f"before its {self.before} step" if self.before else "before its first step finished"


async def drive(session: Session, options: RunOptions, emit: Any, *, resume: bool,
                position: Position | None = None) -> RunOutcome:
    """Run the curation graph over an open session: from the start, or on from its last checkpoint.

    A session is finished only when its export exists (or a reviewer rejected the export):
    resume continues from any checkpoint, including one whose only task already finished
    but whose next checkpoint was never written (LangGraph then reports an empty `next`).
    """
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.types import Command

    from assay.graphs.curation import build_curation_graph
    from assay.report.write import write_report

    position = position or Position()
    from assay.pipeline.engine.ray_embed import engine_embedder

    # With the Ray engine the session's texts are embedded on Ray actors (the shared cache stays here).
    session.embedder_factory = session.embedder_factory or engine_embedder(session.config)
    # The graph's runtime context: given on every invocation, never checkpointed.
    deps = CurationDeps(session=session, options=options, emit=emit, write_report=write_report)
    thread = {"configurable": {"thread_id": session.id}, "recursion_limit": RECURSION_LIMIT}
    async with aiosqlite.connect(str(Path(session.dir) / CHECKPOINTS)) as checkpoints:
        saver = AsyncSqliteSaver(checkpoints, serde=checkpoint_serializer())
        graph = build_curation_graph().compile(checkpointer=saver)
        snapshot = await graph.aget_state(thread)
        position.before = snapshot.next[0] if snapshot.next else None
        start: Any = CurationState()
        go = True
        if not resume:
            session.trace.event("run", "curation started", {"options": options.model_dump(mode="json")})
        elif _interrupts(snapshot):
            session.trace.event("resume", "resumed after review")
            start = Command(resume=True)
        elif snapshot.tasks:
            done = [t.name for t in snapshot.tasks if t.name not in snapshot.next]  # finished, not yet checkpointed
            where = f"after {', '.join(done)}" if done else f"before {', '.join(snapshot.next)}"
            session.trace.event("resume", f"resumed {where}")
            start = None
        elif snapshot.values and _finished(session, snapshot):
            emit("note", {"message": "this session already finished; nothing to resume"})
            go = False
        elif snapshot.values:
            # Ended, yet the export files are gone: write them again from the final state.
            session.trace.event("resume", f"export missing ({', '.join(export_missing(session.dir))}); exporting again")
            await graph.aupdate_state(thread, None, as_node="export_gate")
            start = None
        else:
            session.trace.event("resume", "resumed from the start (no checkpoint)")
        if go:
            # "sync": each checkpoint is on disk before the next node starts changing the session,
            # so a kill leaves the session DB at most the node in progress ahead of its checkpoint.
            async for update in graph.astream(start, thread, context=deps, stream_mode="updates", durability="sync"):
                for node in update:
                    if not node.startswith("__"):
                        position.after = node
        snapshot = await graph.aget_state(thread)
    state = CurationState.model_validate(snapshot.values) if snapshot.values else None
    interrupts = _interrupts(snapshot)
    waiting = next((i.value.get("message") for i in interrupts), None)
    finished = not snapshot.tasks and _finished(session, snapshot)
    spend = _spend(session)
    if state is not None and finished:
        session.trace.event("stop", f"{state.stop_reason}: {state.stop_message}",
                            {"targets": [t.model_dump() for t in state.targets], "spend": spend})
    return RunOutcome(Path(session.dir), finished=finished, waiting_for_review=waiting, state=state, spend=spend)


def _finished(session: Session, snapshot: Any) -> bool:
    """The graph ended and its export exists, or a reviewer rejected the export."""
    rejected = (snapshot.values or {}).get("stop_reason") == "export_rejected"
    return bool(snapshot.values) and (rejected or not export_missing(session.dir))


def export_missing(directory: Path) -> list[str]:
    """The export files a session folder lacks (none: the session finished)."""
    from assay.pipeline.export import CURATED, LINEAGE, REJECTED, REPORT

    return [name for name in (CURATED, REJECTED, LINEAGE, REPORT) if not (Path(directory) / name).is_file()]


def _interrupts(snapshot: Any) -> list[Any]:
    return [i for task in snapshot.tasks for i in task.interrupts]


def _spend(session: Session) -> dict[str, Any]:
    row = session.conn.execute(
        "SELECT COUNT(*) AS calls, SUM(outcome = 'cached') AS cached, COALESCE(SUM(prompt_tokens + completion_tokens), 0)"
        " AS tokens, COALESCE(SUM(cost_usd), 0) AS usd FROM llm_calls").fetchone()
    return {"calls": row["calls"], "cached": row["cached"] or 0, "tokens": row["tokens"], "usd": row["usd"]}
