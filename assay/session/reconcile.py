"""Reconcile: bring a store's Chroma index back in line with SQLite after a kill or a failed feed.

SQLite and the columnar vector files are the truth; Chroma is re-fed from them. Only a sample
with no stored vector (stored by an older assay, whose vectors lived in Chroma alone, and then
lost from Chroma) is embedded again.
"""

from __future__ import annotations

from typing import Any


def repair(store: Any, stale_key: str, page: int) -> dict[str, int]:
    """Compare Chroma with SQLite and queue the fixes; returns what each kind of repair touched."""
    conn = store.table.conn
    store.feed.reset()  # a failure raised before is what this repairs
    stale = conn.execute("SELECT 1 FROM meta WHERE key = ?", (stale_key,)).fetchone() is not None
    found = {"added": 0, "removed": 0, "updated": 0}
    total = store.collection.count()
    if not stale and total == store.table.count():
        return found
    from assay.session.chroma_place import flat_metadata

    in_chroma: dict[str, dict[str, Any]] = {}
    for offset in range(0, total, page):
        got = store.collection.get(limit=page, offset=offset, include=["metadatas"])
        in_chroma.update((i, dict(m or {})) for i, m in zip(got["ids"], got["metadatas"], strict=True))
    missing: list[Any] = []
    updates: dict[str, dict[str, Any]] = {}
    for sample in store.table.iter():
        current = in_chroma.pop(sample.id, None)
        wanted = flat_metadata(sample)
        if current is None:
            missing.append(sample)
        elif current != wanted:
            updates[sample.id] = {**dict.fromkeys(current), **wanted}  # None removes a key
    if missing:
        ids = [s.id for s in missing]
        have = store.files.locate(conn, ids)
        lacking = [s for s in missing if s.id not in have]
        if lacking:
            vectors = store.embedder.encode([s.text() for s in lacking])
            with conn:
                store.files.write(conn, [s.id for s in lacking], vectors)
        store.feed.feed(("upsert", ids))
    if updates:
        store.feed.feed(("update", updates))
    extra = list(in_chroma)
    batch = store.feed.call("max_batch")
    for start in range(0, len(extra), batch):
        store.collection.delete(ids=extra[start : start + batch])
    store.feed.sync()
    with conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (stale_key,))
    store._marked = False
    found.update(added=len(missing), removed=len(extra), updated=len(updates))
    return found
