"""The session store: samples in SQLite, their vectors in columnar files, a Chroma index fed behind.

SQLite holds each sample's full content (it is what gets written back to the user) and is
the truth. Vectors (computed here in large batches) go to Arrow IPC parts under DIR/vectors/
(`vectors.py`), indexed in SQLite in the same transaction as their samples, so `vectors(ids)`
reads them back without asking Chroma. Chroma holds the document, the vector and flat metadata
(status, reason, op, lineage ids, scores) for vector queries and filters.

Chroma is a derived index, fed off the pipeline's path (`index_feed.py`): every write reaches
SQLite first, inside the caller's transaction (a node's writes are one), and is handed to the
feed, as ids, only once that transaction commits, so a rolled back transaction never reaches
it. The feed's helper applies writes in bulk while the pipeline goes on; every read of Chroma
(`query`, `ids_where`, `collection.…`) is answered after the writes before it, and a failed
write is raised at the next read or at `close`. SQLite marks Chroma stale in the same
transaction as each write; the mark is cleared once Chroma has caught up, so a kill in between
leaves it, and `reconcile` (run whenever a session opens its store) re-feeds what Chroma
missed from the columnar vectors, without embedding anything again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assay.core.records import Sample, Status
from assay.session.chroma_place import SCORE_PREFIX, TAG_PREFIX, ChromaPlace, chroma_client, flat_metadata
from assay.session.embeddings import Embedder
from assay.session.index_feed import CollectionProxy, IndexFeed, IndexFeedError
from assay.session.samples import SampleTable
from assay.session.vectors import VectorFiles

__all__ = ["SCORE_PREFIX", "TAG_PREFIX", "STALE_META", "ChromaPlace", "IndexFeedError", "Neighbour", "Store",
           "chroma_client", "flat_metadata", "reconcile"]

STALE_META = "chroma_stale"  # meta key: SQLite holds sample changes Chroma may not have
PAGE = 5000


@dataclass(frozen=True)
class Neighbour:
    """A vector-query hit."""

    id: str
    distance: float  # cosine distance: 0 = same direction
    metadata: dict[str, Any]


class Store:
    """Samples, embeddings and metadata of one session."""

    def __init__(self, table: SampleTable, embedder: Embedder, client: Any, collection_name: str, *,
                 vector_dir: str | Path | None = None) -> None:
        """`client`: a `ChromaPlace` (Chroma runs in a helper process) or a live Chroma client (a
        helper thread). `vector_dir`: where the vector parts go, by default `vectors/` beside the DB."""
        self.table = table
        self.embedder = embedder
        db_path = table.conn.execute("PRAGMA database_list").fetchone()[2]
        if not db_path:
            raise TypeError("the store needs a session DB on disk (its index helper reads it)")
        self.files = VectorFiles(Path(vector_dir) if vector_dir else Path(db_path).parent / "vectors")
        self.feed = IndexFeed(client, collection_name, db_path, str(self.files.folder))
        self.collection = CollectionProxy(self.feed)  # its calls wait for the writes queued before them
        self._marked = False  # this store set the stale mark since it last cleared it
        self._has_rows: bool | None = None

    def close(self) -> None:
        """Let Chroma catch up and stop its helper, then the embedder's helper processes, if any.

        A feed failure not raised before is raised here (the stale mark then stays for the next
        open's reconcile)."""
        try:
            try:
                self._clear_mark()  # waits for the feed, raising its failure (the mark then stays)
            finally:
                self.feed.close()  # stops the helper; raises a failure neither raised before
        finally:
            self.release_embedder()

    def release_embedder(self) -> None:
        """Stop the embedder's helper processes, if it has any; it restarts them on next use.

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
        ids = [s.id for s in new]
        with self.table.conn:
            self.table.insert(new, round=round)
            self.files.write(self.table.conn, ids, vectors)
            self._after_commit(("upsert", ids))
        return ids

    def _after_commit(self, request: tuple[str, Any]) -> None:
        """Mark Chroma stale in the open transaction, and hand `request` to the feed after its commit."""
        conn = self.table.conn
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, 'true')", (STALE_META,))
        self._marked = True
        after = getattr(conn, "after_commit", None)
        if after is None:
            raise TypeError("the store writes through a session connection (assay.session.db.connect)")
        after(lambda: self.feed.feed(request))

    def _clear_mark(self) -> None:
        """Drop the stale mark once every committed write is in Chroma (never inside a transaction,
        whose own writes may not be; never after a failure, which reconcile must repair)."""
        if not self._marked or self.feed.failed or self.table.conn.in_transaction:
            return
        self.feed.sync()
        with self.table.conn:
            self.table.conn.execute("DELETE FROM meta WHERE key = ?", (STALE_META,))
        self._marked = False

    def get(self, ids: Sequence[str]) -> list[Sample]:
        """Samples by id, in the order asked."""
        return self.table.get(ids)

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored embeddings of these ids, in the order asked (KeyError for an id without one).

        Read from the columnar files; only samples stored before the session kept them there
        (an older session) are read from Chroma."""
        ids = list(ids)
        if not ids:
            return np.zeros((0,), dtype=np.float32)
        if self._rows_table():
            found, missing = self.files.read(self.table.conn, ids)
        else:
            found, missing = np.zeros((len(ids), 0), dtype=np.float32), ids
        if not missing:
            return found
        got = self.collection.get(ids=list(dict.fromkeys(missing)), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        absent = [i for i in missing if i not in by_id]
        if absent:
            raise KeyError(absent[0])
        width = len(next(iter(by_id.values())))
        out = found if found.shape[1] == width else np.zeros((len(ids), width), dtype=np.float32)
        lacking = set(missing)
        for row, sample_id in enumerate(ids):
            if sample_id in lacking:
                out[row] = by_id[sample_id]
        return out

    def _rows_table(self) -> bool:
        """Whether the DB has `vector_rows` (a read-only open of an older session has not)."""
        if self._has_rows is None:
            self._has_rows = self.table.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vector_rows'").fetchone() is not None
        return self._has_rows

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
            self._after_commit(("update", {i: {"status": status.value, "reason": reason} for i in ids}))

    def set_scores(self, scores: Mapping[str, Mapping[str, float]]) -> None:
        """Add or replace named scores per sample id, in both places."""
        updates = {i: {SCORE_PREFIX + k: float(v) for k, v in new.items()} for i, new in scores.items()}
        with self.table.conn:
            self.table.merge_scores(scores)
            self._after_commit(("update", updates))

    def set_tags(self, tags: Mapping[str, Mapping[str, list[str]]]) -> None:
        """Add or replace named tag lists (topic, cluster, skills …) per sample id, in both places."""
        updates = {i: {TAG_PREFIX + k: ",".join(v) for k, v in new.items()} for i, new in tags.items()}
        with self.table.conn:
            self.table.merge_tags(tags)
            self._after_commit(("update", updates))

    def count(self) -> int:
        """Samples stored (SQLite's count: it needs no wait for Chroma)."""
        return self.table.count()


def reconcile(store: Store) -> dict[str, int]:
    """Bring Chroma in line with SQLite: add what it misses, drop what SQLite does not hold,
    and rewrite metadata that differs. Vectors come from the columnar files; only a sample
    that has none there is embedded again. Cheap when nothing was left unsynced (the stale mark
    is absent and the counts agree). Returns how many samples each kind of repair touched."""
    from assay.session.reconcile import repair

    return repair(store, STALE_META, PAGE)
