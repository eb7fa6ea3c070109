"""A progress display with a rate and an ETA per task, for long passes over a pool (`assay score`).

Like render.progress_from_first_task, the bar appears with the first task, on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.pipeline.progress import Advance, StartTask


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
            return Text(f"{rate:,.0f}/s" if rate else "", style="progress.data.speed")

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=progress_console,
                    transient=False)


@contextmanager
def rate_progress() -> Iterator[StartTask]:
    """A progress callback drawing rate and ETA columns; the bar starts with the first task."""
    from assay.cli.render import progress_tasks

    bar = rate_bar()
    start_task = progress_tasks(bar)
    started = False

    def start(description: str, total: int | None) -> Advance:
        nonlocal started
        if not started:
            bar.start()
            started = True
        return start_task(description, total)

    try:
        yield start
    finally:
        if started:
            bar.stop()
