"""Live progress of `assay run`: a bar per stage, a line per round, and the final verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.progress import Progress, TaskID
from rich.table import Table

SHOWN_METRICS = ("active", "qualifying", "export_mean_quality", "export_min_quality", "cluster_coverage",
                 "topic_coverage")


class RunDisplay:
    """Receives the graph's progress events (`emit(kind, data)`) and draws them."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console = console
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.round = 0

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        """Draw one event."""
        if kind == "stage":
            self.tasks[data["name"]] = self.progress.add_task(f"round {self.round} · {data['name']}", total=data.get("total"))
        elif kind == "advance" and data["name"] in self.tasks:
            self.progress.advance(self.tasks[data["name"]], data.get("n", 1))
        elif kind == "measured":
            self.console.print(f"[bold]round {data['round']}[/] measured: " + metrics_line(data["metrics"]))
            for target in data["targets"]:
                self.console.print("   " + target_line(target))
        elif kind == "plan":
            self.round = data["round"]
            self.console.print(f"[bold cyan]round {data['round']} → {data['action']}[/]: {data['rationale']}")
        elif kind == "note":
            self.console.print(f"[yellow]{data['message']}[/]")
        elif kind in ("ingested", "judged", "repaired", "applied", "selected"):
            self.console.print(f"   {kind}: " + ", ".join(f"{k} {v}" for k, v in data.items()
                                                       if v is not None and not isinstance(v, dict)))
        elif kind == "expanded":
            self.console.print(f"   expanded: kept {data['kept']}, rejected {data['rejected']}")


def metrics_line(metrics: dict[str, Any]) -> str:
    """The headline metrics in one line."""
    return " · ".join(f"{name} {_fmt(metrics.get(name))}" for name in SHOWN_METRICS if metrics.get(name) is not None)


def target_line(target: dict[str, Any]) -> str:
    """One target: met or not, achieved vs target."""
    mark = "[green]✓ met[/]" if target["met"] else "[red]✗ not met[/]"
    detail = f" ({target['detail']})" if target.get("detail") else ""
    return f"{mark} {target['name']}: {_fmt(target['achieved'])} vs target {_fmt(target['target'])}{detail}"


def outcome_view(outcome: Any) -> Group:
    """The final message: why it stopped, each target met or not, the files and the spend."""
    lines: list[Any] = []
    state = outcome.state
    if outcome.waiting_for_review:
        lines.append(f"[bold yellow]paused for review[/]: {outcome.waiting_for_review}; then `assay resume {outcome.session_dir}`")
    elif state is not None:
        lines.append(f"[bold]stopped: {state.stop_reason}[/] — {state.stop_message}")
        table = Table(title="targets", show_header=True)
        for column in ("target", "wanted", "achieved", "met"):
            table.add_column(column)
        for t in state.targets:
            table.add_row(t.name, _fmt(t.target), _fmt(t.achieved), "[green]yes[/]" if t.met else "[red]no[/]")
        if state.targets:
            lines.append(table)
        else:
            lines.append("no targets were set: the loop cleaned and judged the pool, then exported it")
        for kind, path in state.exported.items():
            lines.append(f"  {kind}: {path}")
    spend = outcome.spend
    lines.append(f"LLM calls {spend.get('calls', 0)} ({spend.get('cached', 0)} from cache), tokens {spend.get('tokens', 0)}, "
                 f"cost ${spend.get('usd', 0.0):.4f} · trace: assay trace {outcome.session_dir}")
    return Group(*lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
    return str(value)
