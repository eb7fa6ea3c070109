"""Vectors in columnar files: written per add, read back without Chroma, correct under rollback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assay.session.session import Session
from assay.session.store import IndexFeedError
from tests.store_helpers import HashEmbedder, open_session, pool


def test_vectors_are_read_from_the_arrow_parts_without_asking_chroma(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashEmbedder()
    session = open_session(tmp_path / "s", embedder)
    first, second = pool(3, "a"), pool(2, "b")
    session.store.add(first)
    session.store.add(second)
    assert sorted(p.name for p in (tmp_path / "s" / "vectors").iterdir()) == ["part-00000001.arrow", "part-00000002.arrow"]

    def no_chroma(*args: object, **kwargs: object) -> None:
        raise AssertionError("vectors() must not ask Chroma")

    monkeypatch.setattr(session.store.feed, "call", no_chroma)
    ids = [second[1].id, first[0].id, second[1].id, first[2].id]  # across parts, one twice
    expected = HashEmbedder().encode([s.text() for s in [second[1], first[0], second[1], first[2]]])
    assert np.array_equal(session.store.vectors(ids), expected)
    monkeypatch.undo()
    with pytest.raises(KeyError):  # an id with no vector anywhere (Chroma is asked for ids the files lack)
        session.store.vectors([first[0].id, "no-such-id"])
    session.close()


def test_a_rolled_back_add_leaves_no_vector_and_a_later_add_replaces_it(tmp_path: Path) -> None:
    session = open_session(tmp_path / "s", HashEmbedder("old"))
    samples = pool(2)
    with pytest.raises(RuntimeError), session.conn:
        session.store.add(samples)
        assert session.store.vectors([samples[0].id]).shape == (1, 384)  # the node sees its own writes
        raise RuntimeError("the node failed")
    with pytest.raises(KeyError):
        session.store.vectors([samples[0].id])
    assert session.store.collection.count() == 0  # the rolled back add never reached Chroma
    session.store.embedder = HashEmbedder("new")  # e.g. another model after the failure
    assert session.store.add(samples) == [s.id for s in samples]
    fresh = HashEmbedder("new").encode([s.text() for s in samples])
    assert np.array_equal(session.store.vectors([s.id for s in samples]), fresh)
    got = session.store.collection.get(ids=[samples[0].id], include=["embeddings"])
    assert np.allclose(got["embeddings"][0], fresh[0], atol=1e-6)
    session.close()


def test_an_older_session_s_vectors_are_read_from_chroma(tmp_path: Path) -> None:
    session = open_session(tmp_path / "s", HashEmbedder())
    samples = pool(3)
    session.store.add(samples)
    session.store.feed.sync()  # Chroma holds all three
    with session.conn:  # as stored by an assay that kept vectors in Chroma alone
        session.conn.execute("DELETE FROM vector_rows WHERE id = ?", (samples[1].id,))
    expected = HashEmbedder().encode([s.text() for s in samples])
    assert np.allclose(session.store.vectors([s.id for s in samples]), expected, atol=1e-6)
    session.close()


def test_a_failed_feed_is_raised_at_the_next_query_and_at_close_never_swallowed(tmp_path: Path) -> None:
    session = open_session(tmp_path / "s", HashEmbedder())
    session.store.collection.upsert(ids=["odd"], embeddings=[[0.1, 0.2, 0.3]])  # the collection now wants 3 dims
    session.store.add(pool(2))  # returns: Chroma's refusal comes later
    with pytest.raises(IndexFeedError, match="dimension"):
        session.store.ids_where({"status": "active"})
    with pytest.raises(IndexFeedError):  # and stays raised: no query reads an index that missed writes
        session.store.query(np.ones(384, dtype=np.float32), 1)
    session.close()  # already raised: close does not raise it twice

    other = open_session(tmp_path / "t", HashEmbedder())
    other.store.collection.upsert(ids=["odd"], embeddings=[[0.1, 0.2, 0.3]])
    other.store.add(pool(2))
    with pytest.raises(IndexFeedError, match="dimension"):
        other.close()  # no query came: close raises it
    again = Session.open(tmp_path / "t", other.runtime, other.config, create=False)  # the lock was given back
    again.close()
