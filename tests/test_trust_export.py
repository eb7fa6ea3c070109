"""Issue 11, defects 2 and 21: the export keeps every sample, in its own format, with the user's data.

A session over a compact JSON array (Alpaca, with the user's own id/source/category) and a
ShareGPT JSONL file of multi-turn conversations: rewrites are applied the way the apply node
does it (a proposal, rebuilt from its payload), one rewrite is rejected in review.
"""

from __future__ import annotations

import json
from pathlib import Path

from assay.agents.rewriter import Rewrite, apply_rewrite
from assay.pipeline.export import export_session
from assay.report.write import write_report
from assay.graphs.state import CurationState
from assay.pipeline.intake.ingest import read_inputs, store_inputs
from assay.session.proposals import decide, proposals, propose, sample_payload
from assay.core.records import Status

ALPACA = [
    {"id": "a-0", "source": "wiki", "instruction": "Capital of France?", "input": "", "output": "Lyon", "category": "geo"},
    {"id": "a-1", "source": "web", "instruction": "2+2?", "input": "", "output": "5", "category": "math"},
    {"id": "a-2", "source": "web", "instruction": "Spell cat.", "input": "", "output": "c-a-t", "category": "spelling"},
]
CHAT = {"id": "chat-9", "conversations": [
    {"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"},
    {"from": "human", "value": "Largest planet?"}, {"from": "gpt", "value": "Saturn"}]}


def build(tmp_path: Path, session) -> dict[str, object]:
    array = tmp_path / "pool.json"
    array.write_text(json.dumps(ALPACA), encoding="utf-8")  # one line, as json.dump writes it
    chats = tmp_path / "chats.jsonl"
    chats.write_text(json.dumps(CHAT) + "\n", encoding="utf-8")
    read = read_inputs([array, chats], skip_invalid=False, max_record_bytes=10**7)
    store_inputs(session, read)
    a0, a1, a2, chat = read.samples
    fixes = {a0.id: Rewrite(response="Paris"), a1.id: Rewrite(response="4"), chat.id: Rewrite(response="Jupiter")}
    clock = session.runtime.clock
    for parent in (a0, a1, chat):
        new = apply_rewrite(parent, fixes[parent.id])
        propose(session.conn, clock, round=1, kind="repair", sample_id=new.id, parent_id=parent.id,
                auto_approve=parent is not a1, summary="rewrite", payload=sample_payload(new))
    (pending,) = proposals(session.conn, status="pending")
    decide(session.conn, clock, [pending.id], "rejected", by="reviewer", note="not convinced")
    applied = {}
    for item in proposals(session.conn, status="approved"):  # what the apply node does
        new = item.sample()
        session.store.add([new], round=1)
        session.store.set_status([item.parent_id], Status.DROPPED, f"replaced_by:{new.id}")
        applied[item.parent_id] = new
    session.store.set_status([applied[a0.id].id, applied[chat.id].id, a2.id], Status.SELECTED, None)
    session.store.set_status([a1.id], Status.DROPPED, "below_quality_floor:3.00")
    rejected_rewrite = apply_rewrite(a1, fixes[a1.id])
    return {"a0": a0, "a1": a1, "a2": a2, "chat": chat, "new_a0": applied[a0.id], "new_chat": applied[chat.id],
            "rejected_rewrite": rejected_rewrite}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_keeps_formats_user_fields_sources_and_rejected_rewrites(tmp_path: Path, session) -> None:
    made = build(tmp_path, session)
    written = export_session(session, CurationState(), write_report=write_report)
    curated, rejected, lineage = rows(written["curated"]), rows(written["rejected"]), rows(written["lineage"])

    # A rewrite inherits its parent's own fields; each sample is written in its own format.
    by_output = {r.get("output") or r["conversations"][-1]["value"]: r for r in curated}
    assert by_output["Paris"] == {"id": "a-0", "source": "wiki", "instruction": "Capital of France?", "input": "",
                                  "output": "Paris", "category": "geo"}
    assert by_output["c-a-t"] == ALPACA[2]
    chat = by_output["Jupiter"]
    assert chat["id"] == "chat-9" and [t["value"] for t in chat["conversations"]] == [
        "Be brief.", "Hi", "Hello", "Largest planet?", "Jupiter"]

    # Sources name the record index of the array, not its (single) line.
    sources = {row["id"]: row["source"] for row in lineage}
    assert [sources[made[k].id] for k in ("a0", "a1", "a2")] == ["pool.json[0]", "pool.json[1]", "pool.json[2]"]
    assert sources[made["chat"].id] == "chats.jsonl:1"

    # The rewrite the reviewer rejected is in rejected.jsonl and lineage.jsonl, with its reason and parent.
    bad = made["rejected_rewrite"]
    (row,) = [r for r in rejected if r["_assay"]["id"] == bad.id]
    assert row["output"] == "4" and row["id"] == "a-1" and row["category"] == "math"
    assert row["_assay"]["parent_ids"] == [made["a1"].id] and "not convinced" in row["_assay"]["reason"]
    (line,) = [r for r in lineage if r["id"] == bad.id]
    assert line["parent_ids"] == [made["a1"].id] and line["op"] == "rewrite" and line["status"] == "dropped"

    # Every sample the session held is in exactly one of curated and rejected, and in the lineage.
    curated_ids = {made[k].id for k in ("new_a0", "new_chat", "a2")}
    rejected_ids = [r["_assay"]["id"] for r in rejected]
    assert len(curated) == 3 and len(rejected_ids) == len(set(rejected_ids))
    held = {made[k].id for k in made}
    assert set(rejected_ids) == held - curated_ids
    assert {r["id"] for r in lineage} == held and len(lineage) == len(held)


def test_a_second_export_is_identical(tmp_path: Path, session) -> None:
    build(tmp_path, session)
    first = {k: Path(v).read_text() for k, v in export_session(session, CurationState(), write_report=write_report).items() if k != "report"}
    second = {k: Path(v).read_text() for k, v in export_session(session, CurationState(), write_report=write_report).items() if k != "report"}
    assert first == second
