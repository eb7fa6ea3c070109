"""The report's entry point: collect a session's data, render it, write report.html atomically.

The export service (`assay.pipeline.export`) cannot import the report layer above it, so the
interface layer injects `write_report` into it (`CurationDeps.write_report`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.core.writers import atomic_text
from assay.report.data import collect
from assay.report.html import render


def write_report(session: Any, state: Any, path: str | Path) -> Path:
    """Write the session's report.html (atomically); returns its path."""
    path = Path(path)
    page = render(collect(session, state))
    with atomic_text(path) as handle:
        handle.write(page)
    return path
