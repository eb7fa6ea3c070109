"""`assay compare --report PAGE.html`: the comparison as one self-contained page, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.core.writers import atomic_text
from assay.pipeline.compare_view import compare_context
from assay.report.html import environment


def render_compare_page(result: dict[str, Any]) -> str:
    """The page as text: the report's comparison section under a heading naming both sets."""
    title = f"A: {result['a']['label']} · B: {result['b']['label']}"
    return environment().get_template("compare.html.j2").render(title=title, comparison=compare_context(result))


def write_compare_page(result: dict[str, Any], path: str | Path) -> Path:
    """Write the page (atomically); returns its path."""
    path = Path(path)
    page = render_compare_page(result)
    with atomic_text(path) as handle:
        handle.write(page)
    return path
