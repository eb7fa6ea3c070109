"""The index helper's side of the Chroma feed: applies writes in bulk and answers calls, in order.

It runs in a helper process (a `ChromaPlace`) or a helper thread (a live client), and reads
requests from a channel (`recv`, `poll`, `send`):
- ("upsert", ids): put these samples into Chroma. Vectors come from the session's columnar
  files, documents and metadata from its SQLite DB, both read here through this side's own
  read-only connection, so the writer hands over ids only;
- ("update", {id: {key: value}}): metadata changes (None removes a key);
- ("call", method, args, kwargs): a collection method, answered ("ok", result) or
  ("error", text); "sync" answers once every earlier request is applied (read-your-writes);
- ("reset",): forget a feed error (reconcile has brought Chroma back in line);
- ("close",): answer, then stop.
Requests already queued are coalesced: consecutive writes become one upsert of up to the
client's maximum batch, then one merged metadata update. An upsert reads the latest committed
state, so applying it before updates queued beside it gives the same result as their order.
The first failing write stops the feed: later writes are skipped and every call answers the
error until a reset, so nothing reads an index that silently missed writes.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.session.chroma_place import ChromaPlace, flat_metadata

WRITES = ("upsert", "update")
_COALESCE_IDS = 50_000  # ids gathered into one round of writes


def open_collection(client: Any, name: str) -> tuple[Any, int]:
    """The session's collection (cosine space, vectors supplied by assay) and the client's batch limit."""
    collection = client.get_or_create_collection(name, configuration={"hnsw": {"space": "cosine"}},
                                                 embedding_function=None)
    return collection, int(client.get_max_batch_size())


def serve_process(requests: Any, replies: Any, place: ChromaPlace, name: str, db_path: str, vector_dir: str,
                  parent: int) -> None:
    """The helper process's entry point: stops when its parent is gone (a killed writer must not
    leave a second writer on the collection when the session reopens)."""
    channel = _PipeChannel(requests, replies)
    serve(channel, lambda: open_collection(place.connect(), name), db_path, vector_dir,
          alive=lambda: os.getppid() == parent)


class _PipeChannel:
    def __init__(self, requests: Any, replies: Any) -> None:
        self.recv, self.poll, self.send = requests.recv, requests.poll, replies.send


def serve(channel: Any, opener: Callable[[], tuple[Any, int]], db_path: str, vector_dir: str,
          alive: Callable[[], bool] = lambda: True) -> None:
    """Apply and answer requests until ("close",) or the channel ends."""
    from assay.session.db import connect
    from assay.session.samples import SampleTable
    from assay.session.vectors import VectorFiles

    error: str | None = None
    conn = connect(db_path, read_only=True)
    try:
        collection, max_batch = opener()
    except Exception:  # answered to every call: the writer raises it at its next query
        collection, max_batch, error = None, 1, "opening the vector index failed:\n" + traceback.format_exc()
    table = SampleTable(conn, _no_clock)
    files = VectorFiles(Path(vector_dir))
    held: tuple[Any, ...] | None = None
    while True:
        try:
            request = held if held is not None else channel.recv()
        except EOFError:
            return
        held = None
        if not alive():
            return
        kind = request[0]
        if kind in WRITES:
            batch = [request]
            while sum(len(r[1]) for r in batch) < _COALESCE_IDS and channel.poll():
                nxt = channel.recv()
                if nxt[0] not in WRITES:
                    held = nxt
                    break
                batch.append(nxt)
            if error is None:
                try:
                    _apply(batch, collection, max_batch, table, files, conn)
                except BaseException:  # kept and answered: a feed error is never swallowed
                    error = "a write to the vector index failed:\n" + traceback.format_exc()
        elif kind == "reset":
            error = None
            channel.send(("ok", None))
        elif kind == "close":
            channel.send(("error", error) if error else ("ok", None))
            conn.close()
            return
        elif error is not None:
            channel.send(("error", error))
        else:
            channel.send(_answer(collection, max_batch, request[1], request[2], request[3]))


def _answer(collection: Any, max_batch: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        if method == "sync":
            return ("ok", None)
        if method == "max_batch":
            return ("ok", max_batch)
        return ("ok", getattr(collection, method)(*args, **kwargs))
    except Exception:  # the caller's own call failed: it raises there, the feed goes on
        return ("error", traceback.format_exc())


def _apply(batch: list[tuple[Any, ...]], collection: Any, max_batch: int, table: Any, files: Any, conn: Any) -> None:
    upserts = list(dict.fromkeys(i for kind, ids in batch if kind == "upsert" for i in ids))
    updates: dict[str, dict[str, Any]] = {}
    for kind, changes in batch:
        if kind == "update":
            for sample_id, change in changes.items():
                updates.setdefault(sample_id, {}).update(change)
    for start in range(0, len(upserts), max_batch):
        ids = upserts[start : start + max_batch]
        samples = {s.id: s for s in table.get(ids)}
        vectors, missing = files.read(conn, ids)
        absent = set(missing)  # no vector row: nothing to index (the sample was never embedded here)
        keep = [k for k, i in enumerate(ids) if i in samples and i not in absent]
        if keep:
            collection.upsert(ids=[ids[k] for k in keep], embeddings=vectors[keep],
                              documents=[samples[ids[k]].text() for k in keep],
                              metadatas=[flat_metadata(samples[ids[k]]) for k in keep])
    ids = list(updates)
    for start in range(0, len(ids), max_batch):
        part = ids[start : start + max_batch]
        collection.update(ids=part, metadatas=[updates[i] for i in part])


def _no_clock() -> Any:
    raise RuntimeError("the index helper only reads the session")
