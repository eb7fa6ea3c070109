"""Redacting a whole answer before it is shown: every string of a report through the session's redactor."""

from __future__ import annotations

from typing import Any

from assay.trace.log import Redactor


def redacted(value: Any, redactor: Redactor) -> Any:
    """The same structure with every string passed through the redactor (the trace was redacted when
    written; this also catches keys set since, or a trace written by an older assay)."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, dict):
        return {k: redacted(v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, redactor) for v in value]
    return value
