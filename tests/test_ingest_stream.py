"""Ingest in batches: same session as the in-memory ingest, resumable after a kill, memory bounded by the batch.

The encoder is a stand-in (a fixed vector per text, counting what it is asked to embed): the
ingest's own work is under test, not the model's.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assay.core.config import Config
from assay.core.errors import InputError
from assay.pipeline.intake.check import check_inputs
from assay.pipeline.intake.ingest import REJECTS_NAME, read_inputs, store_inputs
from assay.pipeline.intake.stream import ingest_files
from assay.session.session import Session
from assay.session.store import Store, chroma_client

ROWS = "SELECT id, messages, source, op, parent_ids, format, record, status, reason, scores, tags, round FROM samples ORDER BY rowid"


class CountingEncoder:
    """A fixed 8-float vector per text; remembers every text it was asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: list[str], *, on_batch: Any = None) -> np.ndarray:
        self.texts.extend(texts)
        if on_batch is not None:
            on_batch(len(texts))
        rows = [np.frombuffer(hashlib.blake2b(t.encode(), digest_size=8).digest(), dtype=np.uint8) for t in texts]
        return np.stack(rows).astype(np.float32) + 1 if rows else np.zeros((0, 8), np.float32)


def open_session(directory: Path, runtime: Any, encoder: CountingEncoder) -> Session:
    session = Session.open(directory, runtime, Config(), create=True)
    session.__dict__["store"] = Store(session.samples, encoder, chroma_client(session.dir, None), "ingest-test")
    return session


def pool(path: Path, n: int, *, repeat_every: int = 0, bad_at: tuple[int, ...] = ()) -> Path:
    """n Alpaca records, every `repeat_every`-th a copy of the one before it, `bad_at` lines invalid."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            if i + 1 in bad_at:
                handle.write('{"instruction": "no output"}\n' if i % 2 else "not json\n")
                continue
            k = i - 1 if repeat_every and i % repeat_every == repeat_every - 1 else i
            handle.write(json.dumps({"instruction": f"Question {k}: what is {k} squared?", "input": "",
                                     "output": f"{k} squared is {k * k}."}) + "\n")
    return path


def test_batches_store_what_the_in_memory_ingest_stores(tmp_path: Path, runtime) -> None:
    first = pool(tmp_path / "a.jsonl", 40, repeat_every=5, bad_at=(7, 12))
    second = pool(tmp_path / "b.jsonl", 25, repeat_every=4, bad_at=(3,))  # overlaps a.jsonl: repeats across files
    old = open_session(tmp_path / "old", runtime, CountingEncoder())
    expected = store_inputs(old, read_inputs([first, second], skip_invalid=True, max_record_bytes=10**6))
    new = open_session(tmp_path / "new", runtime, CountingEncoder())
    got = ingest_files(new, [first, second], skip_invalid=True, max_record_bytes=10**6, batch_size=6)
    assert [tuple(r) for r in new.conn.execute(ROWS)] == [tuple(r) for r in old.conn.execute(ROWS)]
    assert (got.added, got.already_present, got.invalid) == (expected.added, expected.already_present, expected.invalid)
    assert [(f.path, f.shape, f.valid, f.invalid, f.repeats) for f in got.files] == [
        (f.path, f.shape, f.valid, f.invalid, f.repeats) for f in expected.files]
    assert (new.dir / REJECTS_NAME).read_text() == (old.dir / REJECTS_NAME).read_text()
    rejects = [json.loads(line) for line in (new.dir / REJECTS_NAME).read_text().splitlines()]
    assert [(r["file"], r["line"], r["field"]) for r in rejects] == [
        (str(first), 7, None), (str(first), 12, "output"), (str(second), 3, None)]
    again = ingest_files(new, [first], skip_invalid=True, max_record_bytes=10**6, batch_size=6)
    assert again.added == 0 and again.already_present == got.files[0].valid - got.files[0].repeats
    old.close()
    new.close()


def test_a_killed_ingest_resumes_without_embedding_the_stored_batches_again(tmp_path: Path, runtime) -> None:
    data = pool(tmp_path / "pool.jsonl", 50, bad_at=(9,))
    clean = open_session(tmp_path / "clean", runtime, CountingEncoder())
    ingest_files(clean, [data], skip_invalid=True, max_record_bytes=10**6, batch_size=10)

    class Killed(Exception):
        pass

    def kill_after_two(index: int) -> None:
        if index == 1:
            raise Killed

    killed = CountingEncoder()
    session = open_session(tmp_path / "killed", runtime, killed)
    with pytest.raises(Killed):
        ingest_files(session, [data], skip_invalid=True, max_record_bytes=10**6, batch_size=10, after_batch=kill_after_two)
    assert session.samples.count() == 19 and len(killed.texts) == 19  # two batches of ten records, one invalid
    assert not (session.dir / REJECTS_NAME).exists()  # written only by an ingest that finishes
    session.close()

    encoder = CountingEncoder()
    session = open_session(tmp_path / "killed", runtime, encoder)
    report = ingest_files(session, [data], skip_invalid=True, max_record_bytes=10**6, batch_size=10)
    assert len(encoder.texts) == 30 and not set(killed.texts) & set(encoder.texts)  # the stored ones: never again
    assert report.added == 30 and report.already_present == 19
    assert [tuple(r) for r in session.conn.execute(ROWS)] == [tuple(r) for r in clean.conn.execute(ROWS)]
    assert (session.dir / REJECTS_NAME).read_text() == (clean.dir / REJECTS_NAME).read_text()
    assert session.store.collection.count() == 49
    session.close()
    clean.close()


def test_a_bad_record_late_in_the_file_stores_nothing_without_skip_invalid(tmp_path: Path, runtime) -> None:
    data = pool(tmp_path / "pool.jsonl", 60, bad_at=(55,))
    session = open_session(tmp_path / "s", runtime, CountingEncoder())
    with pytest.raises(InputError, match="line 55"):
        ingest_files(session, [data], skip_invalid=False, max_record_bytes=10**6, batch_size=10)
    assert session.samples.count() == 0
    session.close()


def test_check_counts_valid_and_invalid_records_per_file(tmp_path: Path) -> None:
    data = pool(tmp_path / "pool.jsonl", 30, repeat_every=3, bad_at=(4, 5))
    checked = check_inputs([data], skip_invalid=True, max_record_bytes=10**6)
    assert (checked.valid, checked.invalid, checked.files[0].shape.format) == (28, 2, "alpaca")
    with pytest.raises(InputError):
        check_inputs([data], skip_invalid=False, max_record_bytes=10**6)


def traced_peak(work: Any) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_ingest_memory_is_bounded_by_the_batch_not_the_pool(tmp_path: Path, runtime) -> None:
    """20k samples at batch 1k: the peak of Python allocations is a fraction of the in-memory path's."""
    data = pool(tmp_path / "pool.jsonl", 20_000)
    memory = open_session(tmp_path / "memory", runtime, CountingEncoder())
    in_memory = traced_peak(lambda: store_inputs(memory, read_inputs([data], skip_invalid=False, max_record_bytes=10**6)))
    memory.close()
    streamed = open_session(tmp_path / "streamed", runtime, CountingEncoder())
    batched = traced_peak(lambda: ingest_files(streamed, [data], skip_invalid=False, max_record_bytes=10**6, batch_size=1000))
    assert streamed.samples.count() == 20_000
    streamed.close()
    assert batched < in_memory / 4, (batched, in_memory)


class FailingEncoder(CountingEncoder):
    """Fails (as a crashed model would) on its `fail_at`-th call."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def encode(self, texts: list[str], *, on_batch: Any = None) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("encoder crashed")
        return super().encode(texts, on_batch=on_batch)


def test_the_run_ingest_node_resumes_batch_by_batch_and_reports_progress(tmp_path: Path, runtime) -> None:
    """`assay run`'s ingest step: a crash in batch 3 keeps batches 1-2; the rerun embeds only the rest."""
    from types import SimpleNamespace

    from assay.pipeline.screen.pool import ingest_inputs

    data = pool(tmp_path / "pool.jsonl", 45, repeat_every=9)
    config = Config.model_validate({"store": {"ingest_batch": 10}})
    options = SimpleNamespace(inputs=[str(data)], skip_invalid=False, fields=[])

    def run(encoder: CountingEncoder) -> list[tuple[str, dict]]:
        session = Session.open(tmp_path / "run", runtime, config, create=True)
        session.__dict__["store"] = Store(session.samples, encoder, chroma_client(session.dir, None), "run")
        events: list[tuple[str, dict]] = []
        try:
            ingest_inputs(SimpleNamespace(session=session, options=options, emit=lambda kind, data: events.append((kind, data))))
            assert session.meta("ingested") is True
            return events
        finally:
            session.close()

    crashing = FailingEncoder(fail_at=3)
    with pytest.raises(RuntimeError, match="encoder crashed"):
        run(crashing)
    after_crash = Session.open(tmp_path / "run", runtime, config, create=False)
    assert after_crash.samples.count() == 18 and not after_crash.meta("ingested", False)
    after_crash.close()
    resumed = CountingEncoder()
    events = run(resumed)
    assert len(crashing.texts) == 18 and len(resumed.texts) == 40 - 18  # 45 records, 5 repeats: 40 distinct
    assert not set(crashing.texts) & set(resumed.texts)
    assert events[0] == ("stage", {"name": "ingest", "total": 45})
    assert sum(data["n"] for kind, data in events if kind == "advance") == 45
    assert events[-1] == ("ingested", {"added": 22, "invalid": 0})
