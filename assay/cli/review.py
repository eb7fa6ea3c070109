"""`assay review DIR`: list a session's pending proposals and approve or reject them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from assay.pipeline.repair.review import ItemView
    from assay.session.proposals import Proposal

LISTS = ("--approve", "--reject", "--show")


class ReviewCommand(TyperCommand):
    """`--approve 2 3 4`: the ids after --approve, --reject or --show, up to the next option, all belong to it.

    Click gives an option one value per occurrence; this spells the list out as repeated
    options before parsing, so `--approve 2 --approve 3` works too.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Expand each id list into repeated options, then parse as usual."""
        return super().parse_args(ctx, spread_ids(args))


def spread_ids(args: Sequence[str]) -> list[str]:
    """`--approve 2 3 --reject 4` -> `--approve 2 --approve 3 --reject 4` (only digits extend a list)."""
    out: list[str] = []
    current: str | None = None
    taken = 0
    for arg in args:
        if arg in LISTS:
            current, taken = arg, 0
            out.append(arg)
            continue
        if current is not None and arg.isdigit():
            out += [arg] if taken == 0 else [current, arg]
            taken += 1
            continue
        current = None
        out.append(arg)
    return out


def review(
    session: Annotated[Path, typer.Argument(help="Session folder of a `--review` run.")],
    approve: Annotated[Optional[list[int]], typer.Option("--approve", help="Approve these item ids: --approve 2 3 4.")] = None,
    reject: Annotated[Optional[list[int]], typer.Option("--reject", help="Reject these item ids: --reject 5 6.")] = None,
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every pending item.")] = False,
    reject_all: Annotated[bool, typer.Option("--reject-all", help="Reject every pending item.")] = False,
    note: Annotated[Optional[str], typer.Option("--note", help="Why (kept with the decision).")] = None,
    show: Annotated[Optional[list[int]], typer.Option("--show", help="Show only these pending items in full: --show 2 3.")] = None,
    brief: Annotated[bool, typer.Option("--brief", help="Only the table of pending items, no texts or diffs.")] = False,
    order: Annotated[str, typer.Option("--order", help="informative: the most informative items first, with a score and why (the rubrics of `assay rubric refine` disagree, then the judge is unsure); the default when there are such scores. created: oldest first.")] = "informative",
) -> None:
    """Show each pending item (proposed text, its parent, a word diff, the judge's reasons), or approve / reject
    them: `assay review DIR --approve 2 3 4 --reject 5 6`; then `assay resume DIR` continues."""
    from assay.cli.options import runtime
    from assay.cli.render import console
    from assay.cli.review_view import by_priority, item_panel, priorities_of
    from assay.pipeline.repair.review import item_views
    from assay.pipeline.repair.review import review as decide_items

    if order not in ("informative", "created"):
        raise typer.BadParameter("choose informative or created", param_hint="--order")

    left, changed = decide_items(session, runtime(), approve=approve or [], reject=reject or [], approve_all=approve_all,
                                 reject_all=reject_all, note=note, by=reviewer_name())
    if any(changed.values()):
        console.print(f"approved {changed['approved']}, rejected {changed['rejected']}")
    ranks = priorities_of(session, runtime()) if order == "informative" and left else {}
    if not any(changed.values()) and not brief:
        for view in by_priority(item_views(session, runtime(), show or ()), ranks, lambda v: v.item.id):
            console.print(item_panel(view, ranks.get(view.item.id)))
    console.print(pending_table(by_priority(left, ranks, lambda p: p.id), ranks))
    if not left:
        console.print(f"nothing pending: continue with `assay resume {session}`")


def reviewer_name() -> str:
    """Who is deciding: the login name, or "cli" where the container has none."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def pending_table(items: Sequence[Proposal], ranks: dict[int, Any] | None = None) -> Any:
    """The pending items, one row each; with `ranks` (item id -> ItemPriority), their priority and why."""
    from rich.table import Table

    from assay.cli.text import cells

    table = Table(title=f"{len(items)} pending review item{'s' if len(items) != 1 else ''}")
    ranked = ("priority", "why") if ranks else ()
    for column in ("id", "round", "kind", "sample", "from", "summary", *ranked):
        table.add_column(column)
    for item in items:
        rank = (ranks or {}).get(item.id)
        extra = ((f"{rank.score:.2f}", rank.reason) if rank else ("-", "-")) if ranks else ()
        # Cells as Text: a summary quotes model text, which a plain string cell would parse as markup.
        table.add_row(*cells(item.id, item.round if item.round is not None else "-", item.kind,
                             item.sample_id or "-", item.parent_id or "-", item.summary, *extra))
    return table
