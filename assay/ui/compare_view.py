"""The viewer's "Synthetic vs real" page: a session's seeds against its synthetic samples, the same
comparison as the report's section (`assay.pipeline.compare_view`, shared by both).

Computed on the page's first view, not when the viewer starts: it embeds every sample (answered
by the shared embedding cache, where the store put the session's vectors, so only the model load,
the token counts and the measures cost time) and runs the permutation test. The viewer keeps the
result until the session DB changes (`Viewer.cached_in_thread`), so a running session's page
follows its new samples and a finished one is computed once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.pipeline.compare_view import session_comparison
from assay.session.session import Runtime, Session


def seeds_against_synthetic(directory: Path, runtime: Runtime) -> dict[str, Any]:
    """The page's context: the comparison's rows and charts, or a note when the session never expanded.
    Opens its own read-only session (it runs in a worker thread, away from the viewer's connection)."""
    session = Session.open_read_only(directory, runtime)
    try:
        return session_comparison(session)
    finally:
        session.close()
