"""The store with a real Chroma collection and real all-MiniLM-L6-v2 embeddings."""

from __future__ import annotations

import pytest

from assay.records import Message, Sample, Status
from assay.session import Session


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
    from assay.config import Config

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
