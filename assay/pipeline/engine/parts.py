"""The engine's work folder: one Parquet part per batch per pass, and a manifest naming what they are of.

A part is written to a temporary name and renamed, so a part that exists is whole: a run killed
mid-pass leaves finished parts and nothing half-written. The manifest holds a fingerprint of the
inputs (path, size, mtime_ns), the options and the recipe; a rerun with the same fingerprint reuses
the finished parts and computes only the rest, and one with another fingerprint starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from assay.core.errors import AssayError
from assay.core.writers import atomic_path, atomic_text

MANIFEST = "manifest.json"


def fingerprint(inputs: list[Path], settings: Mapping[str, Any]) -> str:
    """A hash of the input files' identity (path, size, mtime_ns) and of `settings` (JSON-able)."""
    files = []
    for path in inputs:
        stat = path.stat()
        files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    text = json.dumps({"files": files, "settings": settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_work_dir(out: Path) -> Path:
    """`OUT.parts/` beside the output file."""
    return out.with_name(out.name + ".parts")


class Parts:
    """The work folder of one engine run."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = folder
        self.fingerprint = fingerprint

    @classmethod
    def open(cls, folder: Path, fingerprint: str) -> Parts:
        """The folder for `fingerprint`: its finished parts kept when the manifest matches, else emptied."""
        manifest = folder / MANIFEST
        if folder.exists():
            if not manifest.is_file() and any(folder.iterdir()):
                # Not a folder this engine made (it always writes the manifest first): never delete it.
                raise AssayError(f"{folder} exists and is not an assay work folder (no {MANIFEST}); move it away or "
                                 "name another output")
            try:
                same = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint") == fingerprint
            except (OSError, ValueError):
                same = False  # a broken manifest: nothing in the folder can be trusted
            if not same:
                shutil.rmtree(folder)
        if not folder.exists():
            folder.mkdir(parents=True)
            with atomic_text(manifest) as handle:
                json.dump({"fingerprint": fingerprint}, handle)
        return cls(folder, fingerprint)

    def path(self, name: str, index: int | None = None, suffix: str = ".parquet") -> Path:
        """The part `name` (of batch `index`, when it is per batch)."""
        return self.folder / (f"{name}-{index:06d}{suffix}" if index is not None else f"{name}{suffix}")

    def done(self, name: str, index: int | None = None, suffix: str = ".parquet") -> bool:
        """Whether that part was finished (by this run or an earlier one of the same fingerprint)."""
        return self.path(name, index, suffix).exists()

    def write_table(self, table: Any, name: str, index: int | None = None) -> Path:
        """Write an Arrow table as a part, atomically."""
        import pyarrow.parquet as pq

        target = self.path(name, index)
        with atomic_path(target) as tmp:
            pq.write_table(table, tmp)
        return target

    def read_table(self, name: str, index: int | None = None, columns: list[str] | None = None) -> Any:
        """A part's table (only `columns`, when named)."""
        import pyarrow.parquet as pq

        return pq.read_table(self.path(name, index), columns=columns)

    def read_chunks(self, name: str, index: int | None = None, columns: list[str] | None = None,
                    rows: int = 1024) -> Iterator[Any]:
        """A part's rows as Arrow record batches of up to `rows` rows (only `columns`, when named): a part's
        wide columns (signatures, fingerprints) a chunk at a time, not whole."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.path(name, index)) as source:
            yield from source.iter_batches(batch_size=rows, columns=columns, use_threads=False)

    def stages(self, name: str, index: int) -> list[dict[str, Any]]:
        """The stage reports a finished part recorded in its metadata (for a batch a rerun does not recompute)."""
        import pyarrow.parquet as pq

        metadata = pq.read_schema(self.path(name, index)).metadata or {}
        return json.loads(metadata[b"stages"])

    def remove(self) -> None:
        """Delete the whole work folder (after the output is written)."""
        shutil.rmtree(self.folder, ignore_errors=False)
