"""Selecting from a file (`assay select`): read a scored file, gather what the method needs, select, write, summarise.

Candidates are the records `assay score` did not drop (a file with no `_assay` objects is
taken whole, unscored). Quality is `--score NAME`, else `judge_overall` when the file has
it (as a score, or as `assay judge`'s verdict), else nothing: the method then selects for
diversity alone, and the summary says so. Tags come from `_assay.tags`; without them MIG uses the clusters as labels. Embeddings are
computed only when the method needs them (DEITA and k-center: the samples'; MIG with
tags: the tags'), or read from a session's store.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from assay.core.config import PluginSettings
from assay.core.config import StoreSettings
from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.readers import Invalid, container_of_name, raw_records, require_file
from assay.pipeline.plugins import load_selector, selector_names
from assay.pipeline.progress import StartTask
from assay.pipeline.screen.scored_output import ASSAY_KEY
from assay.tools.coverage import unit_rows
from assay.tools.selection import GAIN_MEANING, METHODS, Constraints, LabelSets, MigOptions, Pool, select
from assay.tools.selection.summary import compare
from assay.core.writers import write_records

DEFAULT_SCORE = "judge_overall"
Embed = Callable[[list[str]], np.ndarray]


class SelectReport(TypedDict):
    """What `run_select` returns: the pool and the selection's figures, what was written, notes and warnings."""

    path: str
    out: str
    method: str
    requested: int
    written: int
    records: int
    candidates: int
    eligible: int
    score: str | None
    gain_meaning: str
    figures: dict[str, dict[str, Any]]
    warnings: list[str]
    notes: list[str]
    select_seconds: float
    seconds: float


@dataclass(frozen=True)
class SelectOptions:
    """What the user asked for."""

    n: int
    method: str = "mig"
    score: str | None = None
    min_score: float | None = None
    max_per_cluster: int | None = None
    max_per_tag: int | None = None
    seed: int = 0
    deita_threshold: float = 0.9
    label_threshold: float = 0.9
    plugins: PluginSettings = field(default_factory=PluginSettings)  # the recipe's [plugins]: a selector plugin's settings
    fields: FieldMap = NO_MAPPING  # --field: the file's columns read as the canonical names (and written so)


@dataclass
class PreparedPool:
    """The file's records, which of them are candidates (pool row k = records[rows[k]]), and the pool."""

    records: list[dict[str, Any]]
    rows: list[int]
    pool: Pool
    score: str | None
    notes: list[str]


def prepare_pool(path: Path, *, score: str | None = None, vectors: bool = False, label_vectors: bool = False,
                 clusters_needed: bool = False, seed: int = 0, embed: Embed | None = None,
                 session_vectors: Callable[[list[str]], dict[str, np.ndarray]] | None = None,
                 fields: FieldMap = NO_MAPPING) -> PreparedPool:
    """Read a (scored) file, its columns mapped by `fields`, into a Pool: quality, clusters, tags, and the embeddings asked for."""
    records = _read(path, fields)
    rows = [i for i, r in enumerate(records) if (r.get(ASSAY_KEY) or {}).get("status") != "dropped"]
    scored = any(ASSAY_KEY in r for r in records)
    notes: list[str] = [] if scored else [f"{path} is not a scored file: all {len(rows)} records are candidates"]
    quality, score_name, rows = _quality(records, rows, score, notes)
    verdicts = [records[i].get(ASSAY_KEY) or {} for i in rows]
    embedder = _Embeddings(records, rows, embed, session_vectors)
    clusters = _clusters(verdicts)
    tags = [_tags(v) for v in verdicts]
    labels = LabelSets.from_lists(tags) if any(tags) else None
    sample_vectors = embedder.samples() if vectors else None
    if clusters is None and (clusters_needed or label_vectors and labels is None):
        clusters = embedder.clusters(seed)
        notes.append(f"no clusters in the file: clustered the candidates' embeddings into {len(np.unique(clusters))}")
    tag_vectors = embedder.texts_vectors(list(labels.names)) if label_vectors and labels else None
    pool = Pool(size=len(rows), quality=quality, clusters=clusters, labels=labels, vectors=sample_vectors,
                label_vectors=tag_vectors)
    return PreparedPool(records, rows, pool, score_name, notes + embedder.notes)


def run_select(path: Path, out: Path, options: SelectOptions, *, embed: Embed | None = None,
               session_vectors: Callable[[list[str]], dict[str, np.ndarray]] | None = None) -> SelectReport:
    """Select from one file and write the picks; returns the summary."""
    started = time.perf_counter()
    if options.method not in selector_names():
        raise AssayError(f"unknown method {options.method!r}: choose one of {', '.join(selector_names())}")
    plugin = None if options.method in METHODS else load_selector(options.method, options.plugins)
    needs_vectors = options.method in ("deita", "kcenter") or (plugin is not None and plugin.needs_vectors)
    prepared = prepare_pool(path, score=options.score, vectors=needs_vectors,
                            label_vectors=options.method == "mig", clusters_needed=bool(options.max_per_cluster),
                            seed=options.seed, embed=embed, session_vectors=session_vectors, fields=options.fields)
    pool, rows, records = prepared.pool, prepared.rows, prepared.records
    if pool.labels is None and options.max_per_tag:
        raise AssayError("--quota tag=K needs tags (_assay.tags) in the file")
    constraints = Constraints(options.min_score, options.max_per_cluster, options.max_per_tag)
    select_started = time.perf_counter()
    if plugin is not None:
        selection = plugin.select(pool, options.n, constraints=constraints, seed=options.seed)
    else:
        try:
            selection = select(options.method, pool, options.n, constraints=constraints, seed=options.seed,
                               deita_threshold=options.deita_threshold, mig=MigOptions(label_threshold=options.label_threshold))
        except ValueError as err:
            raise AssayError(str(err)) from None
    select_seconds = time.perf_counter() - select_started
    picked = [_selected_record(records[rows[i]], options.method, rank, selection.gains)
              for rank, i in enumerate(selection.indices.tolist())]
    written = write_records(out, picked, container_of_name(out))
    return {
        "path": str(path), "out": str(out), "method": options.method, "requested": options.n, "written": written,
        "records": len(records), "candidates": len(rows), "eligible": selection.eligible, "score": prepared.score,
        "gain_meaning": GAIN_MEANING.get(options.method, "none (a selector plugin)"), "figures": compare(pool, selection.indices),
        "warnings": selection.warnings, "notes": prepared.notes + selection.notes,
        "select_seconds": select_seconds, "seconds": time.perf_counter() - started,
    }


def _read(path: Path, fields: FieldMap) -> list[dict[str, Any]]:
    require_file(path)
    _, items = raw_records(path, fields=fields)
    records = []
    for item in items:
        if isinstance(item, Invalid):
            raise item.error
        records.append(item[1])
    if not records:
        raise AssayError(f"{path}: no records")
    return records


def _quality(records: list[dict[str, Any]], rows: list[int], name: str | None,
             notes: list[str]) -> tuple[np.ndarray | None, str | None, list[int]]:
    """The quality score per candidate; candidates lacking an asked-for score are left out."""
    def score_of(i: int, key: str) -> float | None:
        value = _scores(records[i].get(ASSAY_KEY) or {}).get(key)
        return None if value is None else float(value)

    available = sorted({k for i in rows for k in _scores(records[i].get(ASSAY_KEY) or {})})
    if name is None:
        if not any(score_of(i, DEFAULT_SCORE) is not None for i in rows):
            notes.append(f"no {DEFAULT_SCORE} score in the file (judge the samples first, or pass --score NAME): "
                         "quality is not used: mig, deita and kcenter select for diversity alone, random draws uniformly"
                         + (f"; scores present: {', '.join(available)}" if available else ""))
            return None, None, rows
        name = DEFAULT_SCORE
    if name not in available:
        raise AssayError(f"no candidate has the score {name!r}; scores present: {', '.join(available) or 'none'}")
    values = [score_of(i, name) for i in rows]
    kept = [(i, v) for i, v in zip(rows, values, strict=True) if v is not None]
    if len(kept) < len(rows):
        notes.append(f"{len(rows) - len(kept)} candidates have no {name} score: left out")
    return np.array([v for _, v in kept], dtype=np.float64), name, [i for i, _ in kept]


def _scores(verdict: dict[str, Any]) -> dict[str, float]:
    """`_assay.scores`, plus `assay judge`'s verdict as judge_overall and judge_<criterion>."""
    scores = dict(verdict.get("scores") or {})
    judge = verdict.get("judge") or {}
    if judge.get("overall") is not None:
        scores.setdefault(DEFAULT_SCORE, judge["overall"])
    for criterion, value in (judge.get("scores") or {}).items():
        scores.setdefault(f"judge_{criterion}", value)
    return scores


def _clusters(verdicts: list[dict[str, Any]]) -> np.ndarray | None:
    values = [v.get("cluster") for v in verdicts]
    if all(c is None for c in values):
        return None
    return np.array([-1 if c is None else int(c) for c in values], dtype=np.int64)


def _tags(verdict: dict[str, Any]) -> list[str]:
    """`_assay.tags` as a list, or a dict of lists (its `cluster` entry aside)."""
    tags = verdict.get("tags")
    if isinstance(tags, dict):
        lists = [[values] if isinstance(values, str) else values or [] for key, values in tags.items() if key != "cluster"]
        return [str(t) for values in lists for t in values]
    return [str(t) for t in tags or []]


def _selected_record(record: dict[str, Any], method: str, rank: int, gains: np.ndarray | None) -> dict[str, Any]:
    """The record as read, its verdict now `selected` with the method, rank (1 = first) and gain."""
    row = copy.deepcopy(record)
    verdict = row.setdefault(ASSAY_KEY, {})
    gain = None if gains is None or not np.isfinite(gains[rank]) else round(float(gains[rank]), 6)
    verdict.update(status="selected", reason=None, selection={"method": method, "rank": rank + 1, "gain": gain})
    return row


class _Embeddings:
    """Sample and text vectors, computed on first need (or read from a session's store)."""

    def __init__(self, records: list[dict[str, Any]], rows: list[int], embed: Embed | None,
                 session_vectors: Callable[[list[str]], dict[str, np.ndarray]] | None) -> None:
        self.records, self.rows = records, rows
        self._embed, self._session_vectors = embed, session_vectors
        self._samples: np.ndarray | None = None
        self.notes: list[str] = []

    def texts_vectors(self, texts: list[str]) -> np.ndarray:
        if self._embed is None:
            from assay.session.embeddings import Embedder

            self._embed = Embedder().encode
        return np.asarray(self._embed(texts), dtype=np.float32)

    def samples(self) -> np.ndarray:
        if self._samples is not None:
            return self._samples
        from assay.core.formats import detect_format, record_to_sample

        samples = []
        for i in self.rows:
            record = {k: v for k, v in self.records[i].items() if k != ASSAY_KEY}
            samples.append(record_to_sample(record, detect_format(record), source=""))
        stored = self._session_vectors([s.id for s in samples]) if self._session_vectors else {}
        rows: list[np.ndarray | None] = [stored.get(s.id) for s in samples]
        missing = [k for k, v in enumerate(rows) if v is None]
        if missing:
            for k, vector in zip(missing, self.texts_vectors([samples[k].text() for k in missing]), strict=True):
                rows[k] = vector
        if self._session_vectors is not None:
            self.notes.append(f"embeddings: {len(samples) - len(missing)} from the session's store, {len(missing)} computed")
        self._samples = unit_rows(np.asarray(rows, dtype=np.float32).reshape(len(samples), -1)) if samples else np.zeros((0, 1), np.float32)
        return self._samples

    def clusters(self, seed: int) -> np.ndarray:
        from assay.tools.coverage import cluster_pool

        return cluster_pool(self.samples(), seed=seed).labels


def reporting_embedder(progress: StartTask, env: Mapping[str, str], settings: StoreSettings | None = None) -> Embed:
    """The bundled embedder with the shared cache, starting a task per call and advancing it per batch.

    The model loads on first use, and only when a text is not cached: `select` after `score`
    over the same file embeds nothing.
    """
    from assay.session.embeddings import embedder_for

    embedder = embedder_for(settings or StoreSettings(), env)

    def embed(texts: list[str]) -> np.ndarray:
        advance = progress(f"embedding {len(texts)} texts", len(texts))
        return embedder.encode(texts, on_batch=advance)

    return embed


def session_vector_reader(session_dir: Path, runtime: Any) -> Callable[[list[str]], dict[str, np.ndarray]]:
    """Stored embeddings by sample id from a session's store (ids it lacks are simply absent)."""
    from assay.session.session import Session

    session = Session.open_read_only(session_dir, runtime)

    def read(ids: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), 5000):
            got = session.store.collection.get(ids=ids[start : start + 5000], include=["embeddings"])
            found.update(zip(got["ids"], (np.asarray(v, dtype=np.float32) for v in got["embeddings"]), strict=True))
        return found

    return read
