"""Live progress of `assay run`: a bar per stage, a line per round, and the final verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table
from rich.text import Text

from assay.core.safe_text import visible_all
from assay.cli.text import cells, plain
from assay.core.readable import shown, shown_pairs

SHOWN_METRICS = ("active", "qualifying", "export_mean_quality", "export_min_quality", "cluster_coverage",
                 "topic_coverage")


class RunDisplay:
    """Receives the graph's progress events (`emit(kind, data)`) and draws them.

    Event data carries model text (a planner's rationale) and data (file names, reasons): it is
    drawn as Text, never parsed as markup, with control characters made visible."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console = console
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.round = 0

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        """Draw one event."""
        data = visible_all(data)
        if kind == "stage":
            # A task's description is rendered as markup: escape the name.
            description = escape(f"round {self.round} · {data['name']}")
            self.tasks[data["name"]] = self.progress.add_task(description, total=data.get("total"))
        elif kind == "advance" and data["name"] in self.tasks:
            self.progress.advance(self.tasks[data["name"]], data.get("n", 1))
        elif kind == "measured":
            self.console.print(Text.assemble((f"round {data['round']}", "bold"), " measured: ",
                                             metrics_line(data["metrics"])))
            for target in data["targets"]:
                self.console.print(Text.assemble("   ", target_line(target)))
        elif kind == "plan":
            self.round = data["round"]
            self.console.print(Text.assemble((f"round {data['round']} → {data['action']}", "bold cyan"), ": ",
                                             str(data["rationale"])))
        elif kind == "note":
            self.console.print(plain(data["message"], "yellow"))
        elif kind in ("ingested", "judged", "repaired", "applied", "tagged", "selected"):
            # Empty values say nothing; a dict (counts by kind) reads "name (a 1, b 2)".
            self.console.print(plain(f"   {kind}: " + shown_pairs({k: v for k, v in data.items() if v not in (None, [], {})},
                                                              sep=" ")))
        elif kind == "expanded":
            self.console.print(plain(f"   expanded: kept {data['kept']}, rejected {data['rejected']}"))


def metrics_line(metrics: dict[str, Any]) -> str:
    """The headline metrics in one line."""
    return " · ".join(f"{name} {shown(metrics.get(name))}" for name in SHOWN_METRICS if metrics.get(name) is not None)


def target_line(target: dict[str, Any]) -> Text:
    """One target: met or not, achieved vs target."""
    mark = ("✓ met", "green") if target["met"] else ("✗ not met", "red")
    target = visible_all(target)
    detail = f" ({target['detail']})" if target.get("detail") else ""
    return Text.assemble(mark, f" {target['name']}: {shown(target['achieved'])} vs target {shown(target['target'])}{detail}")


def outcome_view(outcome: Any) -> Group:
    """The final message: why it stopped, each target met or not, the files and the spend."""
    lines: list[Any] = []
    state = outcome.state
    where = visible_all(str(outcome.session_dir))
    if outcome.waiting_for_review:
        lines.append(Text.assemble(("paused for review", "bold yellow"),
                                   visible_all(f": {outcome.waiting_for_review}; then `assay resume {where}`")))
    elif state is not None:
        lines.append(Text.assemble((visible_all(f"stopped: {state.stop_reason}"), "bold"),
                                   visible_all(f" — {state.stop_message}")))
        table = Table(title="targets", show_header=True)
        for column in ("target", "wanted", "achieved", "met", "detail"):
            table.add_column(column)
        for t in state.targets:
            # After export, size is what was written; the detail says how many qualified for it.
            table.add_row(*cells(t.name, shown(t.target), shown(t.achieved)),
                          Text("yes", "green") if t.met else Text("no", "red"), *cells(t.detail or ""))
        if state.targets:
            lines.append(table)
        else:
            lines.append("no targets were set: the loop cleaned and judged the pool, then exported it")
        for kind, path in state.exported.items():
            lines.append(plain(f"  {kind}: {path}"))
    spend = outcome.spend
    lines.append(plain(f"LLM calls {spend.get('calls', 0)} ({spend.get('cached', 0)} from cache), tokens {spend.get('tokens', 0)}, "
                 f"cost ${spend.get('usd', 0.0):.4f} · trace: assay trace {where}"))
    return Group(*lines)
