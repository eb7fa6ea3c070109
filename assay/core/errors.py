"""Errors that the CLI turns into one clear line and exit code 2 (never a traceback)."""

from __future__ import annotations

from pathlib import Path


class AssayError(Exception):
    """A problem the user can fix (bad input, bad config); printed without a traceback."""


class InputError(AssayError):
    """Bad input data, located by file, line (or row) and field."""

    def __init__(
        self,
        path: str | Path,
        line: int | None,
        message: str,
        *,
        field: str | None = None,
        unit: str = "line",
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        self.unit = unit
        super().__init__(str(self))

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from its parts when it crosses a process boundary (a worker's error reaches the
        # CLI as itself); the default would call __init__ with the message alone and fail.
        return (_input_error, (self.path, self.line, self.message, self.field, self.unit))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.unit} {self.line}"
        what = f"field '{self.field}': {self.message}" if self.field else self.message
        return f"{where}: {what}"


def _input_error(path: str, line: int | None, message: str, field: str | None, unit: str) -> InputError:
    """An InputError from its parts (unpickling)."""
    return InputError(path, line, message, field=field, unit=unit)


class ConfigError(AssayError):
    """Bad recipe file, flag or environment variable."""


class BudgetExhausted(AssayError):
    """The session's LLM budget is spent; work stops cleanly with what it has."""


class RunInterrupted(Exception):
    """Ctrl-C during `assay run` / `resume`: the CLI prints where the session stopped and exits 130."""
