"""A progress display with a rate and an ETA per task, for long passes over a pool (`assay score`).

Like render.progress_from_first_task, the bar appears with the first task, on stderr.
"""

from __future__ import annotations

from typing import Any


def rate_bar() -> Any:
    """Spinner, description, bar, done/total, samples per second, elapsed, and the time left."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    from assay.cli.render import progress_console

    class RateColumn(ProgressColumn):
        """Items a second since the task started (work advances a batch at a time, so a windowed rate jumps)."""

        def render(self, task: Any) -> Text:
            elapsed = task.finished_time if task.finished else task.elapsed
            rate = task.completed / elapsed if elapsed and task.completed else None
            # Slow passes (a causal LM on CPU) run under 1 item/s: show a decimal there, not "0/s".
            shown = "" if not rate else f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.2g}/s"
            return Text(shown, style="progress.data.speed")

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=progress_console,
                    transient=False)


def rate_progress() -> Any:
    """A progress callback (a context manager) drawing rate and ETA columns; the bar starts with the first task."""
    from assay.cli.render import progress_from_first_task

    return progress_from_first_task(rate_bar())
