"""A content-addressed embedding cache shared by every command: one SQLite file per machine.

A vector is stored under (model identity, sha256 of the text). The model identity names the
model and fingerprints its weights (a local folder: each weight and config file's name, size
and a hash of its first MiB; a hub name: the name), plus the normalisation and the precision
(`precision_identity`: fp16 on a GPU, fp32 on the CPU), so another model, another copy of the
weights, un-normalised vectors or another precision never answer from the cache.

Where: `$ASSAY_HOME/embeddings/vectors.db` (default `~/.assay/embeddings/`), or the recipe's
`[store] embedding_cache = PATH` (a folder), or no cache with `embedding_cache = "off"`.
Clearing it is deleting the folder. SQLite in WAL mode keeps it safe under concurrent
processes and kills: each batch of new vectors is one transaction, so a killed command
leaves either the whole batch or none of it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

FILE_NAME = "vectors.db"
OFF = "off"
_READ_CHUNK = 900  # bound parameters per SELECT: under SQLite's old limit of 999
_FINGERPRINT_BYTES = 1 << 20
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".json")

# A rowid table: WITHOUT ROWID would store these 1.5 KB rows at twice the size on disk.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    text_sha BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_sha)
);
CREATE TABLE IF NOT EXISTS rates (model TEXT PRIMARY KEY, texts_per_second REAL NOT NULL);
"""


def cache_folder(setting: str | None, env: Mapping[str, str]) -> Path | None:
    """The cache folder a command uses: the recipe's path, none when "off", else `$ASSAY_HOME/embeddings`."""
    if setting is not None and setting.strip().lower() == OFF:
        return None
    if setting:
        return Path(setting).expanduser()
    home = env.get("ASSAY_HOME") or str(Path(env.get("HOME", "~")) / ".assay")
    return Path(home).expanduser() / "embeddings"


@lru_cache(maxsize=16)
def model_identity(model: str, normalised: bool = True) -> str:
    """The cache key's model part: the name, a fingerprint of a local folder's weights, the normalisation."""
    path = Path(model).expanduser()
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES):
            with file.open("rb") as handle:
                head = handle.read(_FINGERPRINT_BYTES)
            digest.update(f"{file.relative_to(path)}\0{file.stat().st_size}\0".encode())
            digest.update(hashlib.sha256(head).digest())
        name = path.name if path.name != "model" else path.parent.name  # the wheel keeps its model in model/
    else:
        name = model
    return f"{name}@{digest.hexdigest()[:16]}|{'unit' if normalised else 'raw'}"


def precision_identity(model: str, precision: str) -> str:
    """A model identity with the dtype its vectors were computed in: fp16 GPU and fp32 CPU vectors
    differ in the last digits and must not answer for each other. float32 keeps the bare identity,
    so entries written before precision was part of the key (fp32, CPU) are still read."""
    return model if precision == "float32" else f"{model}|{precision}"


def text_key(text: str) -> bytes:
    """The cache key's text part: sha256 of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """float32 vectors by (model identity, text hash), read and written in batches."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / FILE_NAME
        self._lock = threading.Lock()  # one connection, shared by an embedder's threads
        self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a kill loses no committed batch
        self._conn.execute("PRAGMA journal_size_limit=4194304")  # a checkpointed WAL shrinks back to 4 MB
        self._conn.executescript(_SCHEMA)

    def get(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among `keys` (absent keys are simply missing from the result)."""
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), _READ_CHUNK):
                chunk = unique[start : start + _READ_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(f"SELECT text_sha, vector FROM vectors WHERE model = ? AND text_sha IN ({marks})",
                                          (model, *chunk))
                found.update((bytes(k), np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def count(self, model: str, keys: Iterable[bytes]) -> int:
        """How many of `keys` are cached (for the dry-run estimate)."""
        return len(self.get(model, list(keys)))

    def put(self, model: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        """Store vectors, in one transaction (a kill keeps all of them or none)."""
        rows = [(model, key, np.ascontiguousarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR IGNORE INTO vectors (model, text_sha, vector) VALUES (?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def record_rate(self, model: str, texts_per_second: float) -> None:
        """Remember the last measured encoding rate of a model on this machine (for dry-run estimates)."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO rates (model, texts_per_second) VALUES (?, ?)",
                               (model, texts_per_second))

    def rate(self, model: str) -> float | None:
        """The last measured encoding rate of a model here, if any."""
        with self._lock:
            row = self._conn.execute("SELECT texts_per_second FROM rates WHERE model = ?", (model,)).fetchone()
        return float(row[0]) if row else None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


@lru_cache(maxsize=8)
def _open(folder: str) -> EmbeddingCache:
    return EmbeddingCache(folder)


def open_cache(setting: str | None, env: Mapping[str, str]) -> EmbeddingCache | None:
    """The shared cache for a recipe setting and environment (one connection per folder per process)."""
    folder = cache_folder(setting, env)
    return None if folder is None else _open(str(folder.resolve()))
