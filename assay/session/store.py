"""The session store: samples in SQLite, their vectors and flat metadata in Chroma.

SQLite holds each sample's full content (it is what gets written back to the user) and is
the truth; Chroma holds the document, the embedding (computed here in large batches and
handed over as vectors: Chroma's own embedding path ran at half the raw encode speed) and
flat metadata (status, reason, op, lineage ids, scores) for vector queries and filters.

Chroma is derived state. Every write goes to SQLite first, inside the caller's transaction
(a node's writes are one), and reaches Chroma only once that transaction commits; a rolled
back transaction never reaches it. SQLite marks Chroma stale in the same transaction, and
the mark is cleared once Chroma has caught up, so a kill between the two leaves the mark,
and `reconcile` (run whenever a session opens its store) rebuilds what Chroma missed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assay.session.embeddings import Embedder
from assay.core.records import Sample, Status
from assay.session.samples import SampleTable

SCORE_PREFIX = "score."
TAG_PREFIX = "tag."
STALE_META = "chroma_stale"  # meta key: SQLite holds sample changes Chroma may not have
PAGE = 5000


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
        # Vectors of samples added in a transaction not yet committed (Chroma has them only
        # after the commit): a node that adds samples and reads their vectors sees its own writes.
        self._fresh: dict[str, np.ndarray] = {}
        self._unsynced = 0  # Chroma writes queued or failed; the stale mark stays while any is

    def close(self) -> None:
        """Stop the embedder's helper processes, if it started any (the session closes its store).

        `close` is optional for an embedder: one that holds no processes (a stand-in with only
        `encode`) has nothing to release."""
        release = getattr(self.embedder, "close", None)
        if release is not None:
            release()

    def add(self, samples: Sequence[Sample], *, round: int | None = None,
            on_progress: Callable[[int], None] | None = None) -> list[str]:
        """Embed and store the samples not already present; returns the ids added."""
        unique = list({s.id: s for s in samples}.values())
        known = self.table.known(s.id for s in unique)
        new = [s for s in unique if s.id not in known]
        if not new:
            return []
        vectors = self.embedder.encode([s.text() for s in new], on_batch=on_progress)
        self._fresh.update((s.id, v) for s, v in zip(new, vectors, strict=True))
        with self.table.conn:
            self.table.insert(new, round=round)
            self._after_commit(lambda: self._upsert(new, vectors))
        return [s.id for s in new]

    def _after_commit(self, write: Callable[[], None]) -> None:
        """Mark Chroma stale in the open transaction, and queue `write` for after its commit."""
        conn = self.table.conn
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, 'true')", (STALE_META,))
        self._unsynced += 1

        def run() -> None:
            write()  # on failure the count stays up, so the stale mark stays for reconcile
            self._unsynced -= 1
            if self._unsynced == 0:
                with conn:
                    conn.execute("DELETE FROM meta WHERE key = ?", (STALE_META,))

        after = getattr(conn, "after_commit", None)
        if after is None:
            raise TypeError("the store writes through a session connection (assay.session.db.connect)")
        after(run)

    def _upsert(self, samples: Sequence[Sample], vectors: np.ndarray) -> None:
        for start in range(0, len(samples), self._max_batch):
            part = samples[start : start + self._max_batch]
            self.collection.upsert(
                ids=[s.id for s in part],
                embeddings=vectors[start : start + len(part)],
                documents=[s.text() for s in part],
                metadatas=[flat_metadata(s) for s in part],
            )
        for sample in samples:
            self._fresh.pop(sample.id, None)

    def get(self, ids: Sequence[str]) -> list[Sample]:
        """Samples by id, in the order asked."""
        return self.table.get(ids)

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored embeddings of these ids, in the order asked."""
        stored = [i for i in ids if i not in self._fresh]
        got = self.collection.get(ids=stored, include=["embeddings"]) if stored else {"ids": [], "embeddings": []}
        by_id = {**dict(zip(got["ids"], got["embeddings"], strict=True)), **self._fresh}
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
        ids = list(ids)
        with self.table.conn:
            self.table.set_status(ids, status, reason)
            self._after_commit(lambda: self._update_metadata({i: {"status": status.value, "reason": reason} for i in ids}))

    def set_scores(self, scores: Mapping[str, Mapping[str, float]]) -> None:
        """Add or replace named scores per sample id, in both places."""
        updates = {i: {SCORE_PREFIX + k: float(v) for k, v in new.items()} for i, new in scores.items()}
        with self.table.conn:
            self.table.merge_scores(scores)
            self._after_commit(lambda: self._update_metadata(updates))

    def set_tags(self, tags: Mapping[str, Mapping[str, list[str]]]) -> None:
        """Add or replace named tag lists (topic, cluster, skills …) per sample id, in both places."""
        updates = {i: {TAG_PREFIX + k: ",".join(v) for k, v in new.items()} for i, new in tags.items()}
        with self.table.conn:
            self.table.merge_tags(tags)
            self._after_commit(lambda: self._update_metadata(updates))

    def _update_metadata(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        ids = list(updates)
        for start in range(0, len(ids), self._max_batch):
            part = ids[start : start + self._max_batch]
            self.collection.update(ids=part, metadatas=[dict(updates[i]) for i in part])

    def count(self) -> int:
        """Samples stored."""
        return self.table.count()


def reconcile(store: Store) -> dict[str, int]:
    """Bring Chroma in line with SQLite: add what it misses, drop what SQLite does not hold,
    and rewrite metadata that differs. Cheap when nothing was left unsynced (the stale mark is
    absent and the counts agree). Returns how many samples each kind of repair touched."""
    conn = store.table.conn
    stale = conn.execute("SELECT 1 FROM meta WHERE key = ?", (STALE_META,)).fetchone() is not None
    found = {"added": 0, "removed": 0, "updated": 0}
    if not stale and store.collection.count() == store.table.count():
        return found
    in_chroma: dict[str, dict[str, Any]] = {}
    for offset in range(0, store.collection.count(), PAGE):
        got = store.collection.get(limit=PAGE, offset=offset, include=["metadatas"])
        in_chroma.update((i, dict(m or {})) for i, m in zip(got["ids"], got["metadatas"], strict=True))
    missing, updates = [], {}
    for sample in store.table.iter():
        current = in_chroma.pop(sample.id, None)
        wanted = flat_metadata(sample)
        if current is None:
            missing.append(sample)
        elif current != wanted:
            updates[sample.id] = {**dict.fromkeys(current), **wanted}  # None removes a key
    if missing:
        store._upsert(missing, store.embedder.encode([s.text() for s in missing]))
    if updates:
        store._update_metadata(updates)
    extra = list(in_chroma)
    for start in range(0, len(extra), store._max_batch):
        store.collection.delete(ids=extra[start : start + store._max_batch])
    if store._unsynced == 0:
        with conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (STALE_META,))
    found.update(added=len(missing), removed=len(extra), updated=len(updates))
    return found
