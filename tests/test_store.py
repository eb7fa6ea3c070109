"""The store with a real Chroma collection and real all-MiniLM-L6-v2 embeddings."""

from __future__ import annotations

import os
import signal

import pytest

from assay.core.records import Message, Sample, Status
from assay.session.session import Session
from assay.session.store import STALE_META, IndexFeedError, reconcile


def sample(question: str, answer: str) -> Sample:
    return Sample.create([Message(role="user", content=question), Message(role="assistant", content=answer)], source="t")


POOL = [
    sample("How do I reverse a list in Python?", "Use my_list.reverse() or my_list[::-1]."),
    sample("Write a SQL query counting rows per country.", "SELECT country, COUNT(*) FROM t GROUP BY country;"),
    sample("What is the boiling point of water at sea level?", "100 degrees Celsius."),
    sample("Give me a recipe for pancakes.", "Mix flour, eggs, milk; fry in a pan."),
]


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Session:
    from tests.conftest import fixed_runtime
    from assay.core.config import Config

    directory = tmp_path_factory.mktemp("store") / "s"
    opened = Session.open(directory, fixed_runtime({"ASSAY_HOME": str(directory.parent / "home")}), Config(), create=True)
    assert len(opened.store.add(POOL)) == 4
    return opened


def test_adding_again_adds_nothing(filled: Session) -> None:
    assert filled.store.add(POOL) == [] and filled.store.count() == 4
    assert filled.store.collection.count() == 4


def test_vectors_are_unit_length_minilm(filled: Session) -> None:
    vectors = filled.store.vectors([POOL[0].id, POOL[1].id])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_nearest_neighbour_is_the_related_sample(filled: Session) -> None:
    hits = filled.store.query_text("How can I invert the order of a Python list?", n=2)
    assert hits[0].id == POOL[0].id and hits[0].distance < hits[1].distance


def test_status_and_scores_reach_both_sqlite_and_chroma_filters(filled: Session) -> None:
    filled.store.set_status([POOL[3].id], Status.DROPPED, "refusal")
    filled.store.set_scores({POOL[2].id: {"quality": 4.5}})
    assert filled.store.ids_where({"status": "dropped"}) == [POOL[3].id]
    assert filled.store.ids_where({"score.quality": {"$gte": 4}}) == [POOL[2].id]
    (dropped,) = filled.store.get([POOL[3].id])
    assert dropped.status == Status.DROPPED and dropped.reason == "refusal"
    assert filled.store.get([POOL[2].id])[0].scores == {"quality": 4.5}
    hits = filled.store.query_text("pancakes", n=4, where={"status": "active"})
    assert POOL[3].id not in [h.id for h in hits]
    filled.store.set_status([POOL[3].id], Status.ACTIVE, None)
    assert filled.store.get([POOL[3].id])[0].reason is None


def test_session_reopens_with_its_store(filled: Session, tmp_path) -> None:
    reopened = Session.open(filled.dir, filled.runtime, filled.config, create=False)
    assert reopened.id == filled.id and reopened.store.collection.count() == 4


def chroma_view(session: Session) -> dict[str, tuple[str, str | None]]:
    got = session.store.collection.get(include=["metadatas"])
    return {i: (m["status"], m.get("reason")) for i, m in zip(got["ids"], got["metadatas"], strict=True)}


def test_chroma_is_rebuilt_from_sqlite_when_the_session_opens(tmp_path) -> None:
    from tests.conftest import fixed_runtime
    from assay.core.config import Config

    runtime = fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")})
    opened = Session.open(tmp_path / "s", runtime, Config(), create=True)
    store = opened.store
    store.add(POOL[:2])
    extra = sample("A sample only Chroma holds", "left by a write SQLite rolled back")
    store.collection.upsert(ids=[extra.id], embeddings=[[0.1] * 384], documents=[extra.text()],
                            metadatas=[{"status": "active", "op": "seed", "source": "t"}])
    store.collection.update(ids=[POOL[1].id], metadatas=[{"reason": "stale", "score.gone": 1.0}])

    # SIGKILL between SQLite's commits and Chroma's writes: the index helper dies before it applies them.
    os.kill(store.feed.process.pid, signal.SIGKILL)
    store.feed.process.join()
    store.set_status([POOL[0].id], Status.DROPPED, "duplicate_of:x")
    store.add(POOL[2:3])
    with pytest.raises(IndexFeedError):
        store.ids_where({"status": "dropped"})
    opened.close()

    reopened = Session.open(tmp_path / "s", runtime, Config(), create=False)
    expected = {s.id: (s.status.value, s.reason) for s in reopened.samples.iter()}
    assert expected[POOL[0].id] == ("dropped", "duplicate_of:x") and POOL[2].id in expected
    assert chroma_view(reopened) == expected
    assert "score.gone" not in reopened.store.collection.get(ids=[POOL[1].id])["metadatas"][0]
    assert reopened.store.vectors([POOL[2].id]).shape == (1, 384)
    reopened.conn.execute("INSERT INTO meta (key, value) VALUES (?, 'true')", (STALE_META,))
    assert reconcile(reopened.store) == {"added": 0, "removed": 0, "updated": 0}  # in line: nothing rewritten
    reopened.close()
