"""Where a session's Chroma collection lives, how to connect to it, and what its rows hold.

Kept apart from `store.py` so the index helper process (`index_server.py`) can import it
without the embedder and its model code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from assay.core.records import Sample

SCORE_PREFIX = "score."
TAG_PREFIX = "tag."


@dataclass(frozen=True)
class ChromaPlace:
    """A Chroma collection's home: the session folder (embedded) or a server URL (shared).

    A Store given a place, rather than a live client, runs every Chroma call in a helper
    process that connects there (`index_feed.py`): Chroma's embedded bindings hold the GIL
    while they write, so in-process writes would stall the pipeline however they are threaded."""

    session_dir: str
    url: str | None = None

    def connect(self) -> Any:
        """A live client for this place."""
        return chroma_client(Path(self.session_dir), self.url)


def chroma_client(session_dir: Path, chroma_url: str | None) -> Any:
    """An embedded PersistentClient in the session folder, or an HttpClient to a server."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "localhost", port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https", settings=settings,
        )
    return chromadb.PersistentClient(path=str(session_dir / "chroma"), settings=settings)


def flat_metadata(sample: Sample) -> dict[str, Any]:
    """The sample's metadata as Chroma accepts it: str, int, float or bool values only."""
    meta: dict[str, Any] = {"status": sample.status.value, "op": sample.op, "source": sample.source}
    if sample.reason:
        meta["reason"] = sample.reason
    if sample.parent_ids:
        meta["parent_ids"] = ",".join(sample.parent_ids)
    for name, value in sample.scores.items():
        meta[SCORE_PREFIX + name] = float(value)
    for name, values in sample.tags.items():
        meta[TAG_PREFIX + name] = ",".join(values)
    return meta
