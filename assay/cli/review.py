"""`assay review DIR`: list a session's pending proposals and approve or reject them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from assay.session.proposals import Proposal


def review(
    session: Annotated[Path, typer.Argument(help="Session folder of a `--review` run.")],
    approve: Annotated[Optional[list[int]], typer.Option("--approve", help="Approve these item ids (repeatable).")] = None,
    reject: Annotated[Optional[list[int]], typer.Option("--reject", help="Reject these item ids (repeatable).")] = None,
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every pending item.")] = False,
    reject_all: Annotated[bool, typer.Option("--reject-all", help="Reject every pending item.")] = False,
    note: Annotated[Optional[str], typer.Option("--note", help="Why (kept with the decision).")] = None,
) -> None:
    """List pending review items, or approve / reject them; then `assay resume` continues."""
    from assay.cli.options import runtime
    from assay.cli.render import console
    from assay.pipeline.repair.review import review as decide_items

    left, changed = decide_items(session, runtime(), approve=approve or [], reject=reject or [], approve_all=approve_all,
                                 reject_all=reject_all, note=note, by=reviewer_name())
    if any(changed.values()):
        console.print(f"approved {changed['approved']}, rejected {changed['rejected']}")
    console.print(pending_table(left))
    if not left:
        console.print(f"nothing pending: continue with `assay resume {session}`")


def reviewer_name() -> str:
    """Who is deciding: the login name, or "cli" where the container has none."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def pending_table(items: Sequence[Proposal]) -> Any:
    """The pending items, one row each."""
    from rich.table import Table

    from assay.cli.text import cells

    table = Table(title=f"{len(items)} pending review item{'s' if len(items) != 1 else ''}")
    for column in ("id", "round", "kind", "sample", "from", "summary"):
        table.add_column(column)
    for item in items:
        # Cells as Text: a summary quotes model text, which a plain string cell would parse as markup.
        table.add_row(*cells(item.id, item.round if item.round is not None else "-", item.kind,
                             item.sample_id or "-", item.parent_id or "-", item.summary))
    return table
