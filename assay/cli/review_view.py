"""`assay review`'s view of one pending item: the proposed text against its parent as a word diff,
and the judge's reasons. The diff is the viewer's (assay/ui/diff.py); this only renders it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from assay.cli.text import plain
from assay.core.safe_text import visible

T = TypeVar("T")

if TYPE_CHECKING:
    from assay.pipeline.repair.review import ItemView
    from assay.ui.diff import DiffRow


def priorities_of(directory: Any, runtime: Any) -> dict[int, Any]:
    """Pending item id -> its ItemPriority (assay/pipeline/rubric/priority.py); empty when no item scores above 0,
    so the review keeps its created order until there is something to rank by."""
    from assay.pipeline.rubric.priority import review_priority
    from assay.session.session import Session

    session = Session.open_read_only(directory, runtime)
    try:
        ranks = review_priority(session)
    finally:
        session.close()
    return {p.item_id: p for p in ranks} if any(p.score > 0 for p in ranks) else {}


def by_priority(items: Sequence[T], ranks: dict[int, Any], item_id: Callable[[T], int]) -> list[T]:
    """`items` most informative first (ranked ones by score, then the rest as they came); as they came without ranks."""
    if not ranks:
        return list(items)
    order = {i: n for n, i in enumerate(ranks)}  # ranks come highest first
    return sorted(items, key=lambda x: order.get(item_id(x), len(order)))


def item_panel(view: ItemView, rank: Any = None) -> Panel:
    """One item: what it is, its review priority (if ranked), the proposed text (a word diff against its parent),
    the judge's reasons."""
    item = view.item
    parts: list[Any] = [plain(item.summary, "bold")]
    if rank is not None:
        parts.append(plain(f"priority {rank.score:.2f}: {rank.reason}", "magenta"))
    if item.parent_id:
        parts.append(plain(f"{'replaces' if item.kind == 'repair' else 'grown from'} {item.parent_id}"
                           f" -> proposed {item.sample_id or '-'}", "dim"))
    if view.proposed is not None and view.parent is not None and item.kind != "repair":
        # A synthesized sample is a new task grown from its parent: both texts, not a diff of unrelated words.
        parts.append(Text("parent:", style="bold"))
        parts += [plain(f"[{m['role']}] {m['content']}", "dim") for m in view.parent]
        parts.append(Text("proposed:", style="bold"))
        parts += [plain(f"[{m['role']}] {m['content']}") for m in view.proposed]
    elif view.proposed is not None and view.parent is not None:
        from assay.ui.diff import message_diffs

        parts.append(Text("word diff (- parent, + proposed; changed words marked):", style="bold"))
        for diff in message_diffs(view.parent, view.proposed):
            parts.append(plain(f"[{diff['role']}]{'' if diff['changed'] else ' unchanged'}", "cyan"))
            parts += [line for row in diff["rows"] for line in _row(row)]
    elif view.proposed is not None:
        parts.append(Text("proposed sample:", style="bold"))
        parts += [plain(f"[{m['role']}] {m['content']}") for m in view.proposed]
    elif item.kind == "export":
        parts += _export_lines(item.payload)
    else:
        parts += [plain(f"{k}: {v}") for k, v in item.payload.items()]
    if view.reasons:
        parts.append(Text("judge's reasons:", style="bold"))
        parts += [plain(f"- {r}") for r in view.reasons]
    return Panel(Group(*parts), title=f"item {item.id} · {item.kind} · round "
                 f"{item.round if item.round is not None else '-'}", title_align="left")


def _export_lines(payload: dict[str, Any]) -> list[Text]:
    """What the export writes, and each target met or missed as the last measurement found it."""
    from assay.pipeline.repair.review_gate import export_facts

    facts = export_facts(payload)
    lines = [plain(f"writes {facts['selected']} curated samples"
                   + (f", {facts['rejected']} rejected" if facts["rejected"] is not None else "")
                   + f" (stopped: {facts['stop_reason'] or '-'})")]
    lines += [plain(f"  {path}", "dim") for path in facts["files"]]
    if facts["missed"]:
        lines.append(plain(f"misses {len(facts['missed'])} target(s): {'; '.join(facts['missed'])}", "bold red"))
    lines += [plain(f"{'met   ' if t['met'] else 'MISSED'} {t['name']}: {t['text']}", "green" if t["met"] else "red")
              for t in facts["targets"]]
    return lines


def _row(row: DiffRow) -> list[Text]:
    """A diff row as one line (unchanged) or two (- parent, + proposed), changed words styled."""
    if row.kind == "equal":
        return [_line("  ", row.left, "", "dim")]
    lines = []
    if row.left:
        lines.append(_line("- ", row.left, "bold red strike", "red"))
    if row.right:
        lines.append(_line("+ ", row.right, "bold green underline", "green"))
    return lines


def _line(prefix: str, segments: Any, changed: str, base: str) -> Text:
    text = Text(prefix, style=base)
    for seg in segments:
        # Appended as plain strings with a style: a sample's text is never read as markup.
        text.append(visible(seg.text), style=changed if seg.changed else base)
    return text
