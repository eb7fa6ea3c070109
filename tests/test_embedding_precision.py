"""The shared embedding cache keys vectors by precision: fp16 GPU vectors never answer for fp32 CPU ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assay.session.embedding_cache import EmbeddingCache, model_identity, precision_identity, text_key
from assay.session.embeddings import Embedder, default_model_path, expected_precision


def test_precision_is_part_of_the_key_and_fp32_keeps_the_old_one() -> None:
    bare = model_identity(default_model_path())
    assert precision_identity(bare, "float32") == bare  # entries from before precision was keyed: fp32 CPU
    assert len({precision_identity(bare, p) for p in ("float32", "float16", "bfloat16")}) == 3


def test_the_fast_encoder_s_fp16_on_cuda_is_known_before_the_model_loads() -> None:
    model = default_model_path()
    assert expected_precision(model, "cuda") == "float16" and expected_precision(model, "cuda:1") == "float16"
    assert expected_precision(model, "cpu") == "float32"
    gpu, cpu = Embedder(device="cuda"), Embedder(device="cpu")
    assert gpu.precision == "float16" and cpu.precision == "float32" and gpu.identity != cpu.identity
    assert gpu._model is None and cpu._model is None  # nothing was loaded to tell
    assert Embedder(device="cpu", precision="bfloat16").identity.endswith("|bfloat16")


def test_an_entry_of_one_precision_never_answers_for_another(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    old = np.linspace(-1, 1, 384, dtype=np.float32)
    cache.put(model_identity(default_model_path()), [(text_key("a cached text"), old)])  # written by an older assay
    cpu = Embedder(device="cpu", cache=cache)
    gpu = Embedder(device="cuda", cache=cache)
    assert cpu.uncached(["a cached text"]) == 0 and gpu.uncached(["a cached text"]) == 1
    assert np.array_equal(cpu.encode(["a cached text"])[0], old) and cpu.encoded == 0  # still read
    fp16 = np.full(384, 0.05, dtype=np.float32)
    cache.put(gpu.identity, [(text_key("a cached text"), fp16)])
    assert np.array_equal(gpu.encode(["a cached text"])[0], fp16) and gpu.encoded == 0
    assert np.array_equal(cpu.encode(["a cached text"])[0], old)  # each precision reads its own
