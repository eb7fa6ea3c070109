"""Chroma fed behind the pipeline: adds do not wait for it, reads do, and a kill is re-fed without embedding."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assay.core.config import Config
from assay.core.records import Status
from assay.session.store import STALE_META, IndexFeedError, reconcile
from tests.store_helpers import HashEmbedder, open_session, pool
from tests.test_chroma_server import chroma_url  # noqa: F401  (the fixture: a real `chroma run` server)


def stale(session: object) -> bool:
    return session.conn.execute("SELECT 1 FROM meta WHERE key = ?", (STALE_META,)).fetchone() is not None  # type: ignore[attr-defined]


def test_add_returns_while_chroma_is_stalled_and_a_query_waits_for_it(tmp_path: Path) -> None:
    session = open_session(tmp_path / "s", HashEmbedder())
    store = session.store
    assert store.collection.count() == 0  # starts the index helper
    helper = store.feed.process.pid
    os.kill(helper, signal.SIGSTOP)  # Chroma cannot write at all now
    try:
        samples = pool(50)
        started = time.perf_counter()
        assert len(store.add(samples)) == 50
        store.set_status([samples[7].id], Status.DROPPED, "duplicate_of:x")
        assert time.perf_counter() - started < 5  # neither waited for the stopped helper
        assert store.vectors([samples[3].id]).shape == (1, 384)  # vectors need no Chroma
        threading.Timer(1.0, os.kill, (helper, signal.SIGCONT)).start()
        hit = store.query(HashEmbedder().encode([samples[3].text()])[0], 1)[0]  # waits for the feed
    finally:
        os.kill(helper, signal.SIGCONT)
    assert hit.id == samples[3].id and hit.distance < 1e-5
    assert store.ids_where({"status": "dropped"}) == [samples[7].id]
    assert stale(session)
    session.close()
    with sqlite3.connect(tmp_path / "s" / "session.db") as db:  # close waited for Chroma, then cleared the mark
        assert db.execute("SELECT 1 FROM meta WHERE key = ?", (STALE_META,)).fetchone() is None


def test_a_killed_feed_is_re_fed_from_the_columnar_vectors_without_embedding(tmp_path: Path) -> None:
    session = open_session(tmp_path / "s", HashEmbedder())
    store = session.store
    first = pool(30, "a")
    store.add(first)
    assert store.collection.count() == 30
    os.kill(store.feed.process.pid, signal.SIGSTOP)
    later = pool(40, "b")
    store.add(later)  # queued for a helper that never runs it
    store.set_scores({first[0].id: {"quality": 4.0}})
    os.kill(store.feed.process.pid, signal.SIGKILL)
    with pytest.raises(IndexFeedError, match="died"):
        session.close()

    embedder = HashEmbedder()
    reopened = open_session(tmp_path / "s", embedder, create=False)  # reconciles
    assert embedder.encoded == 0  # every vector came from the files
    assert reopened.store.collection.count() == 70 and not stale(reopened)
    assert reopened.store.ids_where({"score.quality": {"$gte": 4}}) == [first[0].id]
    target = later[5]
    assert reopened.store.query(HashEmbedder().encode([target.text()])[0], 1)[0].id == target.id

    reopened.store.collection.delete(ids=[s.id for s in later[:10]])  # rows lost from Chroma
    reopened.conn.execute("INSERT INTO meta (key, value) VALUES (?, 'true')", (STALE_META,))
    reopened.conn.commit()
    assert reconcile(reopened.store) == {"added": 10, "removed": 0, "updated": 0}
    assert embedder.encoded == 0 and reopened.store.collection.count() == 70
    reopened.close()


def test_the_feed_against_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:  # noqa: F811
    config = Config.model_validate({"store": {"chroma_url": chroma_url}})
    session = open_session(tmp_path / "s", HashEmbedder(), config=config)
    samples = pool(20)
    session.store.add(samples)
    assert not (tmp_path / "s" / "chroma").exists()  # the index lives on the server
    assert (tmp_path / "s" / "vectors").is_dir()  # the vectors stay with the session
    assert session.store.collection.count() == 20
    os.kill(session.store.feed.process.pid, signal.SIGKILL)
    extra = pool(5, "x")
    session.store.add(extra)
    with pytest.raises(IndexFeedError):
        session.close()
    embedder = HashEmbedder()
    reopened = open_session(tmp_path / "s", embedder, config=config, create=False)
    assert embedder.encoded == 0 and reopened.store.collection.count() == 25
    vector = HashEmbedder().encode([extra[2].text()])[0]
    assert reopened.store.query(np.asarray(vector), 1)[0].id == extra[2].id
    reopened.close()
