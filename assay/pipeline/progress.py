"""How a service reports progress without knowing who watches: the caller passes a task starter.

A service calls `start(description, total)` when a step begins and gets back an `advance(n)`
function to call as work completes. The CLI turns that into a Rich progress bar; tests and
the viewer pass `no_progress`.
"""

from __future__ import annotations

from collections.abc import Callable

Advance = Callable[[int], None]
StartTask = Callable[[str, int | None], Advance]


def _ignore(n: int) -> None:
    """Advance nothing: no one is watching."""


def no_progress(description: str, total: int | None) -> Advance:
    """A task starter that shows nothing."""
    return _ignore
