"""Sessions for the tests of `assay run`'s screening: a pool ingested with a stand-in encoder, and what
a screen leaves in the session (samples, decisions, screen events) in a form two sessions compare by."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from assay.core.config import Config
from assay.pipeline.deps import RunOptions
from assay.session.session import Session
from assay.session.store import Store, chroma_client


class HashEncoder:
    """A fixed 16-float vector per text (a hash of it): the screen's work is under test, not the model's."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str], *, on_batch: Any = None) -> np.ndarray:
        self.calls += 1
        if on_batch is not None:
            on_batch(len(texts))
        rows = [np.frombuffer(hashlib.blake2b(t.encode(), digest_size=16).digest(), dtype=np.uint8) for t in texts]
        return np.stack(rows).astype(np.float32) + 1 if rows else np.zeros((0, 16), np.float32)


def ingested(directory: Path, source: Path, runtime: Any, *, config: Config | None = None,
             **options: Any) -> tuple[Session, SimpleNamespace]:
    """A session holding `source` ingested as `assay run` ingests it, and the deps its screen takes."""
    from assay.pipeline.screen.pool import ingest_inputs

    session = Session.open(directory, runtime, config or Config(), create=True)
    session.__dict__["store"] = Store(session.samples, HashEncoder(), chroma_client(session.dir, None), directory.name)
    events: list[tuple[str, dict[str, Any]]] = []
    deps = SimpleNamespace(session=session, options=RunOptions(inputs=[str(source)], **options),
                           emit=lambda kind, data: events.append((kind, data)), events=events)
    ingest_inputs(deps)
    return session, deps


def screened_in_memory(session: Session, deps: Any) -> dict[str, Any]:
    """The reference screen (all seeds as Samples, score_pool, apply_screen) of an ingested session, then
    its snapshot; the session is closed."""
    from assay.pipeline.screen.pool import screen_pool_in_memory

    try:
        seeds = [s for s in session.samples.iter() if s.op == "seed"]
        screen_pool_in_memory(deps, seeds, lambda: session.set_meta("screened_rounds", [0]))
        return snapshot(session)
    finally:
        session.close()


def snapshot(session: Session) -> dict[str, Any]:
    """Everything a screen writes: each sample's status, reason, scores, tags and round; the decisions
    (ordered by sample, without their timestamps and row ids); the screen events (stage timings left out)."""
    conn = session.conn
    samples = [(r["id"], r["status"], r["reason"], json.loads(r["scores"]), json.loads(r["tags"]), r["round"])
               for r in conn.execute("SELECT id, status, reason, scores, tags, round FROM samples ORDER BY rowid")]
    decisions = sorted(
        (r["sample_id"] or "", r["round"], r["agent"], r["action"], r["reason"], r["scores"], r["call_ids"])
        for r in conn.execute("SELECT sample_id, round, agent, action, reason, scores, call_ids FROM decisions"))
    events = []
    for r in conn.execute("SELECT round, kind, message, data FROM events WHERE kind = 'screen' ORDER BY id"):
        data = json.loads(r["data"])
        data["stages"] = [{k: v for k, v in stage.items() if k != "seconds"} for stage in data.get("stages", [])]
        events.append((r["round"], r["kind"], r["message"], data))
    return {"samples": samples, "decisions": [(*d[:5], json.loads(d[5]), d[6]) for d in decisions],
            "events": events, "screened": session.meta("screened_rounds")}
