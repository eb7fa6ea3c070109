"""The shared embedding cache: a second command over the same texts does no embedding work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assay.core.config import Config, StoreSettings
from assay.session.embedding_cache import EmbeddingCache, cache_folder, model_identity, text_key
from assay.session.embeddings import Embedder, embedder_for
from tests.conftest import EXAMPLES
from tests.test_cli import assay, run_main

TEXTS = ["Name three primary colours.", "Explain photosynthesis to a child.", "Name three primary colours.",
         "Write a haiku about rain."]


def test_a_second_embedder_reads_every_vector_from_the_cache_and_never_loads_the_model(tmp_path: Path) -> None:
    first = Embedder(cache=EmbeddingCache(tmp_path))
    vectors = first.encode(TEXTS)
    assert first.encoded == 3  # the repeated text is encoded once

    second = Embedder(cache=EmbeddingCache(tmp_path))  # another command: a fresh connection, a fresh model
    again = second.encode(TEXTS)
    assert second.encoded == 0 and second.cached == len(TEXTS) and second._model is None
    assert np.array_equal(vectors, again) and again.dtype == np.float32

    mixed = second.encode([*TEXTS, "A new text."])
    assert second.encoded == 1 and np.array_equal(mixed[: len(TEXTS)], vectors)


def test_progress_counts_cached_texts_too(tmp_path: Path) -> None:
    Embedder(cache=EmbeddingCache(tmp_path)).encode(TEXTS)
    seen: list[int] = []
    Embedder(cache=EmbeddingCache(tmp_path)).encode(TEXTS, on_batch=seen.append)
    assert sum(seen) == len(TEXTS)


def test_another_model_or_other_weights_never_answer_from_the_cache(tmp_path: Path) -> None:
    one, two = tmp_path / "a" / "model", tmp_path / "b" / "model"
    for folder, weights in ((one, b"weights one"), (two, b"weights two")):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(weights)
        (folder / "config.json").write_text("{}")
    assert model_identity(str(one)) != model_identity(str(two))
    assert model_identity(str(one), True) != model_identity(str(one), False)  # normalisation is part of the key
    cache = EmbeddingCache(tmp_path / "cache")
    cache.put(model_identity(str(one)), [(text_key("x"), np.ones(3, dtype=np.float32))])
    assert cache.get(model_identity(str(two)), [text_key("x")]) == {}
    assert np.array_equal(cache.get(model_identity(str(one)), [text_key("x")])[text_key("x")], np.ones(3))


def test_the_cache_lives_in_assay_home_or_where_the_recipe_says_or_nowhere(tmp_path: Path) -> None:
    assert cache_folder(None, {"ASSAY_HOME": str(tmp_path)}) == tmp_path / "embeddings"
    assert cache_folder(None, {"HOME": str(tmp_path)}) == tmp_path / ".assay" / "embeddings"
    assert cache_folder(str(tmp_path / "mine"), {"ASSAY_HOME": "/elsewhere"}) == tmp_path / "mine"
    assert cache_folder("off", {"ASSAY_HOME": str(tmp_path)}) is None
    assert embedder_for(StoreSettings(embedding_cache="off"), {"ASSAY_HOME": str(tmp_path)}).cache is None
    on = embedder_for(StoreSettings(), {"ASSAY_HOME": str(tmp_path)})
    assert on.cache is not None and on.cache.path == (tmp_path / "embeddings" / "vectors.db").resolve()


_WRITER = """
import sys, numpy as np
from assay.session.embedding_cache import EmbeddingCache, text_key
cache = EmbeddingCache(sys.argv[1])
for start in range(0, 400, 20):
    cache.put("m", [(text_key(f"{sys.argv[2]}-{i}"), np.full(4, i, dtype=np.float32)) for i in range(start, start + 20)])
"""


def test_concurrent_processes_write_one_cache_without_losing_a_vector(tmp_path: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name]) for name in ("a", "b", "c")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    cache = EmbeddingCache(tmp_path)
    keys = [text_key(f"{name}-{i}") for name in ("a", "b", "c") for i in range(400)]
    found = cache.get("m", keys)
    assert len(found) == 1200 and float(found[text_key("b-399")][0]) == 399.0


def test_a_second_score_over_the_same_file_embeds_nothing(tmp_path: Path) -> None:
    pool = EXAMPLES / "pool.jsonl"
    bench = ("--decontam", str(EXAMPLES / "benchmark.jsonl"))  # its items and the user turns are embedded too
    first = assay("score", str(pool), "--out", str(tmp_path / "one.jsonl"), *bench, home=tmp_path).stdout
    second = assay("score", str(pool), "--out", str(tmp_path / "two.jsonl"), *bench, home=tmp_path).stdout
    assert "embeddings: 0 texts computed" not in first and "texts computed" in first
    assert "embeddings: 0 texts computed" in second
    assert (tmp_path / "embeddings" / "vectors.db").is_file()
    rows = [[json.loads(line) for line in (tmp_path / name).read_text().splitlines()] for name in ("one.jsonl", "two.jsonl")]
    assert rows[0] == rows[1]  # same vectors, so the same clusters, novelty and verdicts


def test_dry_run_says_what_it_will_embed_before_it_starts(monkeypatch, capsys, tmp_path: Path) -> None:
    from assay.pipeline.dry_run_cost import embedding_cost
    from assay.pipeline.intake.ingest import read_inputs

    pool = EXAMPLES / "pool.jsonl"
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    code, calls = run_main(monkeypatch, "run", str(pool), "--out", str(tmp_path / "s"), "--dry-run")
    err = capsys.readouterr().err
    assert code == 0 and len(calls) == 1
    assert "texts to embed, 0 already in the embedding cache" in err and "no LLM calls" in err

    samples = read_inputs([pool], skip_invalid=False, max_record_bytes=10**7).samples
    env = {"ASSAY_HOME": str(tmp_path / "home")}
    cost = embedding_cost(samples, [], Config(), env)
    assert cost.cached == 0 and cost.to_embed == len({s.text() for s in samples})
    embedder_for(StoreSettings(), env).encode([s.text() for s in samples])
    code, _ = run_main(monkeypatch, "run", str(pool), "--out", str(tmp_path / "s2"), "--dry-run")
    err = capsys.readouterr().err
    assert code == 0 and f"{cost.texts} already in the embedding cache: 0 left, no embedding work" in err


def test_decontamination_cost_counts_benchmark_items_and_user_turns(tmp_path: Path) -> None:
    from assay.pipeline.dry_run_cost import embedding_cost
    from assay.pipeline.intake.ingest import read_inputs

    samples = read_inputs([EXAMPLES / "pool.jsonl"], skip_invalid=False, max_record_bytes=10**7).samples
    env = {"ASSAY_HOME": str(tmp_path)}
    plain = embedding_cost(samples, [], Config(), env)
    guarded = embedding_cost(samples, [EXAMPLES / "benchmark.jsonl"], Config(), env)
    items = sum(1 for line in (EXAMPLES / "benchmark.jsonl").read_text().splitlines() if line.strip())
    assert plain.texts < guarded.texts <= plain.texts + items + len(samples)


_LOOPER = """
import sys, numpy as np
from assay.session.embedding_cache import EmbeddingCache, text_key
cache = EmbeddingCache(sys.argv[1])
i = 0
while True:
    cache.put("m", [(text_key(f"k-{i}-{j}"), np.full(384, i, dtype=np.float32)) for j in range(50)])
    print(i, flush=True)
    i += 1
"""


def test_a_kill_mid_write_leaves_every_stored_vector_whole(tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", _LOOPER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    for _ in range(5):  # let it commit a few batches, then kill it while it writes the next
        writer.stdout.readline()
    writer.kill()
    writer.wait(timeout=30)
    cache = EmbeddingCache(tmp_path)
    assert cache._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    batches = [cache.get("m", [text_key(f"k-{i}-{j}") for j in range(50)]) for i in range(200)]
    sizes = [len(b) for b in batches]
    assert sizes[:5] == [50] * 5 and set(sizes) <= {0, 50}  # whole batches or none
    assert all(v.shape == (384,) and float(v[0]) == i for i, b in enumerate(batches) for v in b.values())
