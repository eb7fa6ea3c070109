"""The fast encoder (issue 14, item 2): same vectors as sentence-transformers, in input order,
from length-bucketed batches tokenized in worker threads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay.session.embeddings import Embedder, default_model_path
from assay.session.encoder_batches import bucket, read_recipe
from assay.session.encoder_fast import FastEncoder
from tests.conftest import need_shared_data

ODD_TEXTS = ["", "a", " ", "x" * 3, "Summarise: " + "the quick brown fox jumps over the lazy dog " * 60]


def alpaca_texts(data: Path, n: int) -> list[str]:
    """Sample texts as assay embeds them: instruction, input and output joined by blank lines."""
    rows = json.loads((data / "alpaca" / "alpaca_5000.json").read_text(encoding="utf-8"))
    return ["\n\n".join(p for p in (r["instruction"], r["input"], r["output"]) if p) for r in rows[:n]]


def test_the_bundled_model_folder_is_read_as_mean_pooling_normalised_at_256_tokens() -> None:
    recipe = read_recipe(default_model_path())
    assert recipe is not None
    assert (recipe.pooling, recipe.normalize, recipe.max_seq_length) == ("mean", True, 256)


def _folder(root: Path, modules: list[str], pooling: dict[str, object], sbert: dict[str, object] | None = None) -> Path:
    root.mkdir()
    entries = [{"idx": i, "name": str(i), "path": "" if i == 0 else f"{i}_{kind}",
                "type": f"sentence_transformers.models.{kind}"} for i, kind in enumerate(modules)]
    (root / "modules.json").write_text(json.dumps(entries))
    for entry in entries[1:]:
        (root / entry["path"]).mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (root / "sentence_bert_config.json").write_text(json.dumps(sbert or {"max_seq_length": 128}))
    return root


def test_only_transformer_pooling_normalize_chains_take_the_fast_path(tmp_path: Path) -> None:
    mean = {"pooling_mode_mean_tokens": True}
    assert read_recipe(_folder(tmp_path / "plain", ["Transformer", "Pooling"], {"pooling_mode": "cls"})) is not None
    assert read_recipe(_folder(tmp_path / "dense", ["Transformer", "Pooling", "Dense", "Normalize"], mean)) is None
    assert read_recipe(_folder(tmp_path / "max", ["Transformer", "Pooling"], {"pooling_mode_max_tokens": True})) is None
    assert read_recipe(_folder(tmp_path / "lower", ["Transformer", "Pooling"], mean, {"do_lower_case": True})) is None
    assert read_recipe(tmp_path / "nothing-here") is None
    assert not FastEncoder.supports("sentence-transformers/all-MiniLM-L6-v2")  # a hub name: sentence-transformers


def test_buckets_sort_by_tokens_stay_under_the_budget_and_keep_each_row() -> None:
    rng = np.random.default_rng(0)
    ids = [list(rng.integers(1, 1000, size=int(n))) for n in rng.integers(1, 60, size=300)]
    rows = np.arange(300, dtype=np.int64) + 1000
    batches = bucket(ids, rows, token_budget=512, pad_id=0, max_width=56)
    assert sorted(r for b in batches for r in b.rows.tolist()) == rows.tolist()
    widths = [b.ids.shape[1] for b in batches]
    assert widths == sorted(widths, reverse=True)
    for b in batches:
        assert b.ids.size <= 512 or len(b.rows) == 1
        assert b.ids.shape[1] % 8 == 0 or b.ids.shape[1] == max(56, int(b.lengths.max()))
        for row, length, padded in zip(b.rows, b.lengths, b.ids, strict=True):
            assert padded[:length].tolist() == ids[row - 1000] and not padded[length:].any()


def test_token_ids_equal_the_models_own_tokenizer_on_every_alpaca_text() -> None:
    from transformers import AutoTokenizer

    from assay.session.encoder_tokens import TokenIds

    hf = AutoTokenizer.from_pretrained(default_model_path())
    tokens = TokenIds(hf.backend_tokenizer.to_str(), 256)
    assert tokens.plain is not None and tokens.lower  # BertNormalizer: the ASCII shortcut applies
    tricky = ["Tab\there, NUL\x00 bell\x07 DEL\x7f vt\x0bff\x0c CR\r", "Crème BRÛLÉE", "東京 Tokyo", "ÀB\u0301c",
              "UPPER lower MiXeD 123 #tag", "\x00", "\ufffd replacement"]
    texts = alpaca_texts(need_shared_data(), 5000) + tricky + ODD_TEXTS
    expected = hf(texts, truncation=True, max_length=256)["input_ids"]
    assert tokens(texts) == [list(ids) for ids in expected]


@pytest.mark.slow
def test_vectors_match_sentence_transformers_on_real_alpaca_texts() -> None:
    from sentence_transformers import SentenceTransformer

    texts = alpaca_texts(need_shared_data(), 200) + ODD_TEXTS
    reference = SentenceTransformer(default_model_path(), device="cpu").encode(
        texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    fast = FastEncoder(default_model_path(), device="cpu")
    assert len(fast.tokenizer([ODD_TEXTS[-1]])[0]) == 256  # truncated as sentence-transformers does
    vectors = fast.encode(texts)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= 0.999, (cosine.argmin(), cosine.min())


def test_small_windows_and_chunks_give_the_same_vectors_in_input_order() -> None:
    texts = [f"Sample {i}: " + "word " * (i % 23) for i in range(40)] + ODD_TEXTS
    whole = FastEncoder(default_model_path(), device="cpu")
    pieces = FastEncoder(default_model_path(), device="cpu", token_budget=64, window=7, chunk=14, threads=3)
    landed: list[int] = []
    one_by_one = np.stack([whole.encode([t])[0] for t in texts[::9]])
    together = pieces.encode(texts, on_chunk=landed.append)
    assert landed == [14, 14, 14, 3] and sum(landed) == len(texts)
    assert np.allclose(together, whole.encode(texts), atol=1e-5)
    assert np.allclose(together[::9], one_by_one, atol=1e-5)  # each row is its own text's vector
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_tokenizer_processes_give_the_same_vectors_as_threads() -> None:
    texts = [f"Sample {i}: " + "Word " * (i % 23) for i in range(30)] + ODD_TEXTS + ["Crème brûlée\x07"]
    threads = FastEncoder(default_model_path(), device="cpu", window=8, processes=False)
    processes = FastEncoder(default_model_path(), device="cpu", window=8, threads=2, processes=True)
    try:
        assert np.allclose(processes.encode(texts), threads.encode(texts), atol=1e-5)
        assert np.allclose(processes.encode(texts[:3]), threads.encode(texts[:3]), atol=1e-5)  # the pool is reused
    finally:
        processes.close()


def test_the_embedder_runs_the_bundled_model_on_the_fast_encoder_and_counts_progress() -> None:
    embedder = Embedder(batch_size=4)
    seen: list[int] = []
    vectors = embedder.encode(ODD_TEXTS, on_batch=seen.append)
    assert isinstance(embedder._model, FastEncoder) and embedder._model.token_budget == 4 * 256
    assert vectors.shape == (len(ODD_TEXTS), embedder.dimension) == (5, 384)
    assert sum(seen) == len(ODD_TEXTS) and embedder.encoded == len(ODD_TEXTS)
