"""`assay report DIR`: write a session's report.html again, from what the session holds now.

`assay run` writes the report at its export. Steps taken on the session afterwards (`assay
rubric refine`, `assay cues detect`, `assay tokens DIR`, review decisions) change what the
report shows; this command renders it again without running anything: no LLM call, the
session opened read-only, the run's state (stop reason, targets, rounds) read from its last
checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def report(
    session: Annotated[Path, typer.Argument(help="Session folder (`assay run`, or any command's --session).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write the page (default: DIR/report.html).")] = None,
) -> None:
    """Write a session's report.html from what it holds now (after `assay rubric refine`, `assay cues detect` …);
    no LLM call."""
    from assay.cli.options import runtime
    from assay.report.write import write_report
    from assay.session.session import Session

    opened = Session.open_read_only(session, runtime())
    try:
        path = write_report(opened, stored_state(opened.dir, opened.id), out or opened.dir / "report.html")
    finally:
        opened.close()
    typer.echo(f"report written: {path}")


def stored_state(directory: Path, thread_id: str) -> Any:
    """The run's state at its last checkpoint, or an empty state for a session `assay run` did not make."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from assay.cli.run import CHECKPOINTS
    from assay.graphs.curation import build_curation_graph
    from assay.graphs.state import CurationState, checkpoint_serializer

    path = Path(directory) / CHECKPOINTS
    if not path.is_file():
        return CurationState()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    try:
        saver = SqliteSaver(conn, serde=checkpoint_serializer())
        saver.is_setup = True  # the run made the tables; setup would write (WAL pragma) to a file opened read-only
        graph = build_curation_graph().compile(checkpointer=saver)
        snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    finally:
        conn.close()
    return CurationState.model_validate(snapshot.values) if snapshot.values else CurationState()
