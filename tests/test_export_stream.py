"""The export streams from DB cursors and writes exactly what the in-memory export wrote.

`old_export` below is the in-memory export as it was before it streamed (every sample in a
list, every verdict in a dict): the oracle. The session mixes statuses, reasons, judgements
(ok, failed, failed after ok), applied rewrites whose records come from their parents, and
proposals rejected, pending and approved-but-not-applied.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

from assay.agents.rewriter import Rewrite, apply_rewrite
from assay.core.records import Sample, Status
from assay.graphs.state import CurationState
from assay.pipeline import export
from assay.pipeline.export import export_session, never_pooled
from assay.pipeline.intake.ingest import read_inputs, store_inputs
from assay.session.judgements import Judgement, latest_judgements, record_judgements
from assay.session.proposals import decide, proposals, propose, sample_payload
from assay.session.store import Store, chroma_client


class HashEmbedder:
    """A stand-in encoder: a fixed vector per text (the export never looks at vectors)."""

    def encode(self, texts: list[str], *, on_batch: Any = None) -> np.ndarray:
        rows = [np.frombuffer(hashlib.blake2b(t.encode(), digest_size=16).digest(), dtype=np.uint8) for t in texts]
        if on_batch is not None:
            on_batch(len(texts))
        return np.stack(rows).astype(np.float32) + 1 if rows else np.zeros((0, 16), np.float32)


def old_export(session: Any, folder: Path) -> dict[str, str]:
    """The in-memory export (before streaming), as the oracle: returns each file's text."""
    samples = list(session.samples.iter()) + never_pooled(session)
    by_id = {s.id: s for s in samples}
    verdicts = latest_judgements(session.conn)
    selected = [s for s in samples if s.status == Status.SELECTED]
    dropped = [s if s.reason else s.model_copy(update={"reason": "not_selected:still_active_at_export"})
               for s in samples if s.status != Status.SELECTED]

    def record_of(sample: Sample) -> dict[str, Any]:
        from assay.core.formats import sample_to_record

        inherit, seen, walk = None, set(), sample
        while walk.op == "rewrite" and (walk.origin is None or walk.origin.record is None) and walk.parent_ids:
            parent = by_id.get(walk.parent_ids[0])
            if parent is None or parent.id in seen:
                break
            seen.add(parent.id)
            if parent.origin is not None and parent.origin.record is not None:
                inherit = parent.origin
                break
            walk = parent
        return sample_to_record(sample, inherit=inherit)

    def rejected(sample: Sample) -> dict[str, Any]:
        record = dict(record_of(sample))
        record["_assay"] = {"id": sample.id, "reason": sample.reason, "op": sample.op, "parent_ids": list(sample.parent_ids)}
        return record

    def lineage(sample: Sample) -> dict[str, Any]:
        verdict = verdicts.get(sample.id)
        ok = verdict is not None and verdict.ok
        return {"id": sample.id, "parent_ids": list(sample.parent_ids), "op": sample.op, "source": sample.source,
                "status": sample.status.value, "reason": sample.reason,
                "quality": verdict.overall if ok else None, "quality_source": verdict.source if ok else None}

    def text(rows: Any) -> str:
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

    return {"curated": text(record_of(s) for s in selected), "rejected": text(rejected(s) for s in dropped),
            "lineage": text(lineage(s) for s in samples)}


def build(session: Any, pool: Path, *, rewrites: int, seed: int) -> None:
    """Ingest `pool`, rewrite some samples (applied, rejected, pending, approved but not applied),
    set mixed statuses and record verdicts."""
    session.__dict__["store"] = Store(session.samples, HashEmbedder(), chroma_client(session.dir, None), "export-test")
    read = read_inputs([pool], skip_invalid=False, max_record_bytes=10**8)
    store_inputs(session, read)
    rng = random.Random(seed)
    clock = session.runtime.clock
    for i, parent in enumerate(rng.sample(read.samples, rewrites)):
        new = apply_rewrite(parent, Rewrite(response=f"a better answer {i}"))
        propose(session.conn, clock, round=1, kind="repair", sample_id=new.id, parent_id=parent.id,
                auto_approve=i % 3 != 0, summary="rewrite", payload=sample_payload(new))
    pending = proposals(session.conn, status="pending")
    decide(session.conn, clock, [p.id for p in pending[::2]], "rejected", by="reviewer", note="not convinced")
    approved = proposals(session.conn, status="approved")
    for item in approved[: max(1, len(approved) - 2)]:  # the last ones stay approved but never applied
        new = item.sample()
        session.store.add([new], round=1)
        session.store.set_status([item.parent_id], Status.DROPPED, f"replaced_by:{new.id}")
    # A rewrite of a rewrite: its record comes from the grandparent, up the chain.
    first = next(s for s in session.samples.iter() if s.op == "rewrite")
    second = apply_rewrite(first, Rewrite(response="the best answer"))
    session.store.add([second], round=2)
    session.store.set_status([first.id], Status.DROPPED, f"replaced_by:{second.id}")
    ids = [s.id for s in session.samples.iter(status=Status.ACTIVE)]
    rng.shuffle(ids)
    quarter = len(ids) // 4
    session.store.set_status(ids[:quarter * 2], Status.SELECTED, None)
    session.store.set_status(ids[quarter * 2:quarter * 3], Status.DROPPED, "exact_duplicate_of:x")
    session.store.set_status(ids[quarter * 3:quarter * 3 + quarter // 2], Status.DROPPED, None)
    judged = ids[: quarter * 3]
    record_judgements(session.conn, clock, [Judgement(i, "llm", float(rng.randint(1, 5))) for i in judged])
    record_judgements(session.conn, clock, [Judgement(i, "classifier", None, error="down") for i in ids[quarter:quarter * 4]])


def check_same(session: Any) -> None:
    expected = old_export(session, Path(session.dir))
    written = export_session(session, CurationState(), write_report=lambda s, state, path: path)
    for name in ("curated", "rejected", "lineage"):
        assert Path(written[name]).read_text(encoding="utf-8") == expected[name], name


def test_streamed_export_is_byte_identical_on_the_quickstart(session, tmp_path: Path) -> None:
    build(session, Path(__file__).parent.parent / "examples" / "quickstart.jsonl", rewrites=4, seed=1)
    check_same(session)


def test_streamed_export_is_byte_identical_on_a_mixed_pool(session, tmp_path: Path) -> None:
    pool = Path(__file__).parent.parent / "examples" / "pool.jsonl"
    build(session, pool, rewrites=12, seed=2)
    check_same(session)


def test_export_reads_the_pool_in_batches_never_as_one_list(session, monkeypatch) -> None:
    """With batches of 7 rows the export writes the same files, and never lists the whole pool."""
    build(session, Path(__file__).parent.parent / "examples" / "pool.jsonl", rewrites=6, seed=3)
    expected = old_export(session, Path(session.dir))
    monkeypatch.setattr(export, "BATCH", 7)

    def no_whole_pool(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the export read the pool through SampleTable.iter")

    monkeypatch.setattr(type(session.samples), "iter", no_whole_pool)
    monkeypatch.setattr(export, "latest_judgements", no_whole_pool, raising=False)
    written = export_session(session, CurationState(), write_report=lambda s, state, path: path)
    for name in ("curated", "rejected", "lineage"):
        assert Path(written[name]).read_text(encoding="utf-8") == expected[name], name
