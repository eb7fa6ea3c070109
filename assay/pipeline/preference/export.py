"""`assay export DIR --preference-pairs F` and `assay run --preference-pairs F`: a session's pairs to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.pipeline.preference.build import build_pairs, write_pairs
from assay.pipeline.preference.model import PairOptions
from assay.session.session import Runtime, Session, session_recipe


def export_pairs(directory: Path, runtime: Runtime, path: Path, options: PairOptions = PairOptions(), *,
                 verify: bool = False) -> dict[str, Any]:
    """Build the session's preference pairs, write them to `path` (atomically), and return the summary.

    Without `verify` the session is only read, so an export may run beside the viewer. With
    it, pairs lacking a pairwise verdict are judged in both orders by the session's judge
    model (traced, cached and budgeted in the session like every call).
    """
    if not verify:
        session = Session.open_read_only(directory, runtime)
        try:
            pairs = build_pairs(session.conn, options)
        finally:
            session.close()
    else:
        import asyncio

        from assay.agents.base import AgentContext
        from assay.pipeline.preference.verify import verify_pairs

        session = Session.open(directory, runtime, session_recipe(directory, runtime), create=False)
        try:
            pairs = asyncio.run(verify_pairs(AgentContext.for_session(session, "judge"),
                                             build_pairs(session.conn, options)))
        finally:
            session.close()
    written = write_pairs(path, pairs)
    return {**pairs.summary(), "written": written, "path": str(path), "min_margin": options.min_margin,
            "sources": list(options.sources), "verified": verify}
