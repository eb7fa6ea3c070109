"""The session store: samples in SQLite, their vectors and flat metadata in Chroma.

SQLite holds each sample's full content (it is what gets written back to the user);
Chroma holds the document, the embedding (computed here in large batches and handed
over as vectors: Chroma's own embedding path ran at half the raw encode speed) and flat
metadata (status, reason, op, lineage ids, scores) for vector queries and filters.
Chroma is written first and SQLite last, so a sample counts as stored once its row
exists, and an interrupted add is simply redone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assay.embeddings import Embedder
from assay.records import Sample, Status
from assay.sample_table import SampleTable

SCORE_PREFIX = "score."
TAG_PREFIX = "tag."


@dataclass(frozen=True)
class Neighbour:
    """A vector-query hit."""

    id: str
    distance: float  # cosine distance: 0 = same direction
    metadata: dict[str, Any]


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


class Store:
    """Samples, embeddings and metadata of one session."""

    def __init__(self, table: SampleTable, embedder: Embedder, client: Any, collection_name: str) -> None:
        self.table = table
        self.embedder = embedder
        self.collection = client.get_or_create_collection(
            collection_name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        self._max_batch = int(client.get_max_batch_size())

    def add(self, samples: Sequence[Sample], *, round: int | None = None,
            on_progress: Callable[[int], None] | None = None) -> list[str]:
        """Embed and store the samples not already present; returns the ids added."""
        unique = list({s.id: s for s in samples}.values())
        known = self.table.known(s.id for s in unique)
        new = [s for s in unique if s.id not in known]
        if not new:
            return []
        vectors = self.embedder.encode([s.text() for s in new], on_batch=on_progress)
        self._upsert(new, vectors)
        self.table.insert(new, round=round)
        return [s.id for s in new]

    def _upsert(self, samples: Sequence[Sample], vectors: np.ndarray) -> None:
        for start in range(0, len(samples), self._max_batch):
            part = samples[start : start + self._max_batch]
            self.collection.upsert(
                ids=[s.id for s in part],
                embeddings=vectors[start : start + len(part)],
                documents=[s.text() for s in part],
                metadatas=[flat_metadata(s) for s in part],
            )

    def get(self, ids: Sequence[str]) -> list[Sample]:
        """Samples by id, in the order asked."""
        return self.table.get(ids)

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored embeddings of these ids, in the order asked."""
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        return np.asarray([by_id[i] for i in ids], dtype=np.float32)

    def query(self, vector: np.ndarray, n: int, where: Mapping[str, Any] | None = None) -> list[Neighbour]:
        """The n nearest stored samples to a vector, optionally filtered by metadata."""
        result = self.collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=n,
            where=dict(where) if where else None, include=["distances", "metadatas"],
        )
        return [
            Neighbour(i, float(d), dict(m or {}))
            for i, d, m in zip(result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True)
        ]

    def query_text(self, text: str, n: int, where: Mapping[str, Any] | None = None) -> list[Neighbour]:
        """The n nearest stored samples to a text."""
        return self.query(self.embedder.encode([text])[0], n, where)

    def ids_where(self, where: Mapping[str, Any]) -> list[str]:
        """Ids whose metadata matches a Chroma `where` filter."""
        return list(self.collection.get(where=dict(where), include=[])["ids"])

    def set_status(self, ids: Sequence[str], status: Status, reason: str | None = None) -> None:
        """Change status and reason in both places (None removes the reason)."""
        self._update_metadata({i: {"status": status.value, "reason": reason} for i in ids})
        self.table.set_status(ids, status, reason)

    def set_scores(self, scores: Mapping[str, Mapping[str, float]]) -> None:
        """Add or replace named scores per sample id, in both places."""
        self._update_metadata({i: {SCORE_PREFIX + k: float(v) for k, v in new.items()} for i, new in scores.items()})
        self.table.merge_scores(scores)

    def set_tags(self, tags: Mapping[str, Mapping[str, list[str]]]) -> None:
        """Add or replace named tag lists (topic, cluster, skills …) per sample id, in both places."""
        self._update_metadata({i: {TAG_PREFIX + k: ",".join(v) for k, v in new.items()} for i, new in tags.items()})
        self.table.merge_tags(tags)

    def _update_metadata(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        ids = list(updates)
        for start in range(0, len(ids), self._max_batch):
            part = ids[start : start + self._max_batch]
            self.collection.update(ids=part, metadatas=[dict(updates[i]) for i in part])

    def count(self) -> int:
        """Samples stored."""
        return self.table.count()
