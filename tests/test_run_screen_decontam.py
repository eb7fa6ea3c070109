"""`assay run`'s round-0 screen streams with decontamination and semantic dedup too (issue 14, items 1 and 4):
the session it leaves is the in-memory screen's (statuses, reasons, scores, decisions, clusters, the screen
event), with a GSM8K test item leaked verbatim (n-grams) and reworded (embeddings), semantic copies and
passage siblings the task check keeps apart; inline, on 2 worker processes and on Ray; a screen killed in
any pass finishes on the rerun, and an edited benchmark file screens afresh."""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from assay.core.config import Config
from assay.pipeline.deps import RunOptions
from assay.pipeline.engine.executor import LocalExecutor
from assay.session.session import Session
from assay.session.store import Store, chroma_client
from tests.conftest import fixed_runtime
from tests.ray_env import ray_runtime  # noqa: F401  (the fixture)
from tests.run_screen_world import screened_in_memory, snapshot
from tests.test_engine_local import need_shared_data

SEMANTIC = ["exact", "minhash", "semantic"]


class BagOfWords:
    """Unit vectors of hashed word counts: a reworded text (its words reordered) lands at cosine 1, a text sharing
    a long passage near it, unrelated texts far. The screen's work is under test, not a model's."""

    def encode(self, texts: list[str], *, on_batch: Any = None) -> np.ndarray:
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, hashlib.blake2b(word.encode(), digest_size=2).digest()[0] % 64] += 1
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


def benchmark(tmp: Path, extra: list[dict[str, str]] = ()) -> Path:
    """GSM8K's first 200 test questions (plus `extra` items) as a benchmark file."""
    lines = (need_shared_data() / "decontam" / "gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    path = tmp / "gsm8k_test.jsonl"
    path.write_text("\n".join([*lines, *(json.dumps(e) for e in extra)]) + "\n", encoding="utf-8")
    return path


def pool(path: Path, size: int = 400, seed: int = 5) -> Path:
    """alpaca_5000's first records plus planted leaks, semantic copies and passage siblings, shuffled."""
    data = need_shared_data()
    records = [dict(r) for r in json.loads((data / "alpaca" / "alpaca_5000.json").read_text(encoding="utf-8"))[:size]]
    tests = [json.loads(line) for line in (data / "decontam" / "gsm8k_test.jsonl").read_text().splitlines()[:200]]
    train = json.loads((data / "decontam" / "gsm8k_train.jsonl").read_text().splitlines()[0])
    rng = random.Random(seed)
    planted = [{"instruction": tests[3]["question"], "input": "", "output": tests[3]["answer"]},  # a verbatim leak
               {"instruction": tests[7]["question"], "input": "", "output": "The answer is 12."},
               {"instruction": train["question"], "input": "", "output": train["answer"]}]  # same style, not a leak
    for item in (tests[11], tests[19]):  # reworded: no 13 words in a row left, every word still there
        words = item["question"].split()
        rng.shuffle(words)
        planted.append({"instruction": " ".join(words), "input": "", "output": "Let me work it out: 42."})
    for original in rng.sample(records[:size], 8):  # semantic copies: the response reworded (its words shuffled)
        words = original["output"].split()
        rng.shuffle(words)
        planted.append({**original, "output": " ".join(words)})
    passage = " ".join(records[50]["output"].split() * 4)  # passage siblings: one text, different questions
    for question, answer in (("Who is this text about?", "Nobody."), ("Summarise the text in a word.", "Science.")):
        planted.append({"instruction": question, "input": passage, "output": answer})
    records.extend(planted)
    rng.shuffle(records)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def session_for(directory: Path, tmp: Path, source: Path, **options: Any) -> tuple[Session, SimpleNamespace]:
    """The session at `directory` (created and ingested as `assay run` ingests, or reopened after a kill)."""
    from assay.pipeline.screen.pool import ingest_inputs

    runtime = fixed_runtime({"ASSAY_HOME": str(tmp / "home")})
    session = Session.open(directory, runtime, Config(), create=not directory.exists())
    session.__dict__["store"] = Store(session.samples, BagOfWords(), chroma_client(session.dir, None), directory.name)
    deps = SimpleNamespace(session=session, options=RunOptions(inputs=[str(source)], **options), emit=lambda k, d: None)
    ingest_inputs(deps)
    return session, deps


def reference(tmp: Path, source: Path, **options: Any) -> dict[str, Any]:
    """The in-memory screen (all seeds as Samples, score_pool, apply_screen)."""
    return screened_in_memory(*session_for(tmp / "memory", tmp, source, **options))


def streamed(tmp: Path, source: Path, *, executor: Any = None, batch_size: int = 53, fault: Any = None,
             name: str = "stream", **options: Any) -> dict[str, Any]:
    from assay.pipeline.engine.session_screen import screen_seeds

    session, deps = session_for(tmp / name, tmp, source, **options)
    try:
        screen_seeds(deps, lambda: session.set_meta("screened_rounds", [0]), executor=executor or LocalExecutor(1),
                     batch_size=batch_size, fault=fault)
        return snapshot(session)
    finally:
        session.close()


def details(shot: dict[str, Any]) -> list[str]:
    """The drop decisions' reasons."""
    return [reason for _, _, agent, action, reason, *_ in shot["decisions"] if action == "drop"]


def test_novelty_is_the_in_memory_one_to_the_bit_with_real_valued_vectors(tmp_path: Path) -> None:
    """A defect found here: novelty was computed a batch of survivors at a time, and the matrix products behind it
    round differently over other tiles of rows (the stand-in encoder's small-integer vectors had hidden it)."""
    source = pool(tmp_path / "pool.jsonl", size=200)
    expected = reference(tmp_path, source)
    for batch_size in (7, 53):
        assert streamed(tmp_path, source, batch_size=batch_size, name=f"stream{batch_size}") == expected


def test_a_samples_cosines_do_not_depend_on_how_many_it_was_screened_with(tmp_path: Path) -> None:
    """A defect found here: one sample alone went to numpy's gemv, whose last bit differs from gemm's, so a batch
    of one survivor could round its contamination_cosine (or meet the threshold) unlike the whole pool's screen."""
    from assay.tools.decontam import Decontaminator

    rng = np.random.default_rng(0)
    items = rng.standard_normal((50, 384)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    vectors = rng.standard_normal((40, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tool = Decontaminator([benchmark(tmp_path)], ngram=None, item_vectors=np.zeros((200, 384), dtype=np.float32))
    tool._item_vectors = items  # the matrix products alone are under test
    together = tool._nearest_items(vectors)
    assert [tool._nearest_items(vectors[i : i + 1])[0] for i in range(len(vectors))] == together


def test_decontamination_streams_with_the_in_memory_verdicts(tmp_path: Path) -> None:
    source, bench = pool(tmp_path / "pool.jsonl"), benchmark(tmp_path)
    expected = reference(tmp_path, source, decontam=[str(bench)])
    assert streamed(tmp_path, source, decontam=[str(bench)]) == expected
    leaks = [r for r in details(expected) if r.startswith("contaminated:gsm8k_test:")]
    assert len(leaks) == 4, leaks  # two verbatim, two reworded; the train question stays
    scores = [s for _, status, reason, s, *_ in expected["samples"] if (reason or "").startswith("contaminated")]
    assert sum(s["contamination_overlap"] == 0 for s in scores) == 2  # the reworded ones: embeddings alone caught them
    assert all("contamination_cosine" in s for _, status, _, s, *_ in expected["samples"] if status == "active")


def test_semantic_dedup_and_decontamination_stream_inline_and_on_two_workers(tmp_path: Path) -> None:
    source, bench = pool(tmp_path / "pool.jsonl"), benchmark(tmp_path)
    options = {"decontam": [str(bench)], "dedup": SEMANTIC}
    expected = reference(tmp_path, source, **options)
    assert streamed(tmp_path, source, **options) == expected
    with LocalExecutor(2) as executor:
        assert streamed(tmp_path, source, executor=executor, batch_size=120, name="two", **options) == expected
    duplicates = {row[0]: row[3]["dup_similarity"] for row in expected["samples"]
                  if (row[2] or "").startswith("duplicate_of:")}
    assert len(duplicates) >= 4, duplicates  # the reworded responses that no heuristic dropped first
    assert any(0.999 < similarity < 1 for similarity in duplicates.values())  # float32 cosines: semantic's own
    import sqlite3

    with sqlite3.connect(tmp_path / "memory" / "session.db") as conn:  # the passage siblings, at cosine 0.99
        siblings = conn.execute("SELECT status FROM samples WHERE messages LIKE '%Summarise the text in a word%' "
                                "OR messages LIKE '%Who is this text about%'").fetchall()
    assert siblings == [("active",), ("active",)]  # the task check kept them apart


def test_semantic_dedup_alone_streams_too(tmp_path: Path) -> None:
    source = pool(tmp_path / "pool.jsonl", size=250)
    expected = reference(tmp_path, source, dedup=["semantic"])
    assert streamed(tmp_path, source, dedup=["semantic"], batch_size=31) == expected
    assert any((row[2] or "").startswith("duplicate_of:") for row in expected["samples"])


def test_screen_round_no_longer_falls_back_to_the_in_memory_screen(tmp_path: Path, monkeypatch: Any) -> None:
    from assay.pipeline.engine import session_screen
    from assay.pipeline.screen import pool as pool_module

    source, bench = pool(tmp_path / "pool.jsonl", size=150), benchmark(tmp_path)
    options = {"decontam": [str(bench)], "dedup": SEMANTIC}
    expected = reference(tmp_path, source, **options)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("round 0 screened in memory")

    monkeypatch.setattr(pool_module, "screen_pool_in_memory", refused)
    session, deps = session_for(tmp_path / "round", tmp_path, source, **options)
    try:
        session_screen.screen_round(deps, 0, [])
        assert snapshot(session) == expected
    finally:
        session.close()


class Killed(Exception):
    """The stand-in for a kill at a chosen point."""


@pytest.mark.parametrize("at", [("screen", 2), ("verdict", 1), ("clusters", 1), ("apply", 1)])
def test_a_killed_screen_with_decontam_and_semantic_dedup_finishes_on_the_rerun(tmp_path: Path,
                                                                               at: tuple[str, int]) -> None:
    source, bench = pool(tmp_path / "pool.jsonl", size=200), benchmark(tmp_path)
    options = {"decontam": [str(bench)], "dedup": SEMANTIC}
    expected = reference(tmp_path, source, **options)

    def kill(stage: str, index: int) -> None:
        if (stage, index) == at:
            raise Killed(f"{stage} {index}")

    with pytest.raises(Killed):
        streamed(tmp_path, source, fault=kill, **options)
    computed: list[tuple[str, int]] = []
    got = streamed(tmp_path, source, fault=lambda stage, index: computed.append((stage, index)), **options)
    assert got == expected
    stage, index = at
    assert (stage, index + 1) in computed and (stage, index) not in computed
    assert not (tmp_path / "stream" / "screen-0.parts").exists()


def test_an_edited_benchmark_file_screens_afresh_after_a_kill(tmp_path: Path) -> None:
    """The parts are keyed by the benchmark file's content: an edit that keeps its size and time still counts."""
    import os

    source = pool(tmp_path / "pool.jsonl", size=200)
    seed = json.loads(source.read_text(encoding="utf-8").splitlines()[0])  # a seed no item leaked before
    leaked = " ".join(re.findall(r"[A-Za-z0-9]+", f"{seed['instruction']} {seed['output']}"))[:300]
    filler = " ".join(["filler"] * 60)[: len(leaked)]
    bench = benchmark(tmp_path, [{"id": "planted", "question": filler}])
    stat = bench.stat()

    def kill(stage: str, index: int) -> None:
        if stage == "verdict":
            raise Killed(stage)

    with pytest.raises(Killed):
        streamed(tmp_path, source, decontam=[str(bench)], fault=kill)
    benchmark(tmp_path, [{"id": "planted", "question": leaked}])
    os.utime(bench, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert bench.stat().st_size == stat.st_size  # size and time alike: only the content tells
    expected = reference(tmp_path, source, decontam=[str(bench)])
    assert streamed(tmp_path, source, decontam=[str(bench)]) == expected
    assert "contaminated:gsm8k_test:planted" in details(expected)


@pytest.mark.slow
def test_the_ray_engine_streams_decontam_and_semantic_dedup_identically(tmp_path: Path, ray_runtime: str) -> None:
    """On a local Ray and on a simulated two-node cluster (the fixture's two runs)."""
    from assay.pipeline.engine.ray_executor import RayExecutor

    source, bench = pool(tmp_path / "pool.jsonl", size=200), benchmark(tmp_path)
    options = {"decontam": [str(bench)], "dedup": SEMANTIC}
    expected = reference(tmp_path, source, **options)
    assert streamed(tmp_path, source, executor=RayExecutor(), batch_size=70, **options) == expected
