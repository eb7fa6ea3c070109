"""Shared pieces of the store tests: a fast, deterministic stand-in embedder and a store over it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assay.core.config import Config
from assay.core.records import Message, Sample
from assay.session.session import Session
from assay.session.store import ChromaPlace, Store, reconcile
from tests.conftest import fixed_runtime

DIM = 384


class HashEmbedder:
    """Unit vectors seeded by each text's hash (and a salt, to tell two embedders apart); counts texts."""

    def __init__(self, salt: str = "") -> None:
        self.salt = salt
        self.encoded = 0

    def encode(self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        self.encoded += len(texts)
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256((self.salt + t).encode()).digest()[:8], "big"))
                .normal(size=DIM) for t in texts]
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), DIM)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True).clip(1e-9)


def pool(n: int, tag: str = "") -> list[Sample]:
    return [Sample.create([Message(role="user", content=f"question {tag}{i}"),
                           Message(role="assistant", content=f"answer {tag}{i}")], source="t") for i in range(n)]


def open_session(directory: Path, embedder: object, *, config: Config | None = None, create: bool = True) -> Session:
    """A session whose store runs on `embedder` (reconciled as `Session.store` does)."""
    runtime = fixed_runtime({"ASSAY_HOME": str(directory.parent / "home")})
    session = Session.open(directory, runtime, config or Config(), create=create)
    url = session.config.store.chroma_url
    store = Store(session.samples, embedder, ChromaPlace(str(session.dir), url), f"assay-{session.id}")  # type: ignore[arg-type]
    session.__dict__["store"] = store
    reconcile(store)
    return session
