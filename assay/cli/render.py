"""Rich parts every command shares: the consoles, the progress bar, and progress callbacks for services.

Results go to stdout (`console`); progress, spinners and notes go to stderr (`progress_console`),
so `assay score ... > summary.txt` or a pipe gets the result alone, in every command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from assay.pipeline.progress import Advance, StartTask

console = Console()
progress_console = Console(stderr=True)


def progress_bar() -> Progress:
    """The progress display used by long commands."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=progress_console, transient=False)


def status(message: str) -> Any:
    """A spinner with `message` on stderr while a step without a count runs."""
    return progress_console.status(message)


def progress_tasks(progress: Progress) -> StartTask:
    """A service's progress callback drawing on `progress`: each step a task, each advance a step forward."""

    def start(description: str, total: int | None) -> Advance:
        task = progress.add_task(description, total=total)
        return lambda n=1: progress.advance(task, n)

    return start


@contextmanager
def progress_from_first_task(bar: Progress | None = None) -> Iterator[StartTask]:
    """A progress callback whose bar (default `progress_bar()`) appears with the first task: a command
    that fails while still reading its input prints no empty bar."""
    bar = bar if bar is not None else progress_bar()
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
