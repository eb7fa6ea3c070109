"""`assay sessions`: the sessions this machine knows, as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.pipeline.session_list import SessionEntry


def sessions() -> None:
    """List the sessions this machine knows ($ASSAY_HOME/sessions.json), with their sizes."""
    from assay.cli.options import runtime
    from assay.cli.render import console
    from assay.pipeline.session_list import known_sessions

    console.print(sessions_table(known_sessions(runtime())))


def sessions_table(entries: list[SessionEntry]) -> Any:
    """The registered sessions that still exist, with sample counts and spend."""
    from rich.table import Table

    from assay.cli.text import cells

    table = Table(title="sessions")
    for column in ("folder", "created", "samples", "LLM calls", "cost (USD)"):
        # The folder folds onto more lines, never cut with "…": it is what `assay trace` and `resume` take.
        table.add_column(column, justify="left" if column in ("folder", "created") else "right",
                         overflow="fold" if column == "folder" else "ellipsis")
    for entry in entries:
        table.add_row(*cells(entry.folder, entry.created or "-", entry.samples, entry.calls, f"{entry.cost_usd:.4f}"))
    return table
