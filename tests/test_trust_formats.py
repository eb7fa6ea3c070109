"""Issue 11, defect 2: every sample keeps every turn, in its own format.

Round trips between every pair of shapes (Alpaca JSON / JSONL / Parquet, ShareGPT, OpenAI
messages), with multi-turn conversations and system prompts; a conversation a format
cannot hold is refused with an error naming the sample, never shortened.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.core.formats import sample_to_record
from assay.core.readers import FileShape, Read, read_samples
from assay.core.records import Message, Origin, Sample
from assay.core.writers import write_samples

S, U, A = "system", "user", "assistant"
CONVERSATIONS = {  # name: turns; the record formats below are written by hand, not by assay
    "single": [(U, "Name a prime."), (A, "7")],
    "system": [(S, "Answer in French."), (U, "Say hello."), (A, "Bonjour.")],
    "four_turns": [(U, "Q1"), (A, "A1"), (U, "Q2"), (A, "A2"), (U, "Q3"), (A, "A3"), (U, "Q4"), (A, "A4")],
    "system_multi": [(S, "Be terse."), (U, "Hi"), (A, "Hello"), (U, "2+2?"), (A, "4")],
}
IRREGULAR = {  # conversations Alpaca cannot hold
    "two_users": [(U, "First part."), (U, "Second part."), (A, "Both read.")],
    "ends_with_user": [(U, "Q1"), (A, "A1"), (U, "Q2")],
    "late_system": [(U, "Q1"), (A, "A1"), (S, "Now be rude."), (U, "Q2"), (A, "A2")],
}


def alpaca(turns: list[tuple[str, str]], n: int) -> dict:
    record: dict = {"id": n, "category": "demo"}
    if turns[0][0] == S:
        record["system"], turns = turns[0][1], turns[1:]
    pairs = [[turns[i][1], turns[i + 1][1]] for i in range(0, len(turns), 2)]
    record.update(instruction=pairs[-1][0], input="", output=pairs[-1][1])
    if len(pairs) > 1:
        record["history"] = pairs[:-1]
    return record


def sharegpt(turns: list[tuple[str, str]], n: int) -> dict:
    speaker = {S: "system", U: "human", A: "gpt"}
    return {"id": f"c{n}", "conversations": [{"from": speaker[r], "value": t} for r, t in turns]}


def openai(turns: list[tuple[str, str]], n: int) -> dict:
    return {"messages": [{"role": r, "content": t} for r, t in turns], "source": f"s{n}"}


BUILD = {"alpaca": alpaca, "sharegpt": sharegpt, "openai": openai}
SHAPES = [FileShape(c, f) for f, cs in (("alpaca", ("json", "jsonl", "parquet")), ("sharegpt", ("jsonl", "json", "parquet")),
                                        ("openai", ("jsonl", "parquet"))) for c in cs]
IDS = [f"{s.format}-{s.container}" for s in SHAPES]


def write_file(path: Path, rows: list[dict], container: str) -> Path:
    if container == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif container == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")  # one line, as json.dump writes it
    else:
        columns = list(dict.fromkeys(k for r in rows for k in r))
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in columns} for r in rows]), path)
    return path


def read_back(path: Path) -> list[Sample]:
    _, items = read_samples(path)
    items = list(items)
    assert all(isinstance(i, Read) for i in items), [str(getattr(i, "error", "")) for i in items]
    return [i.sample for i in items]


def turns_of(sample: Sample) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in sample.messages]


@pytest.mark.parametrize("target", SHAPES, ids=IDS)
@pytest.mark.parametrize("source", SHAPES, ids=IDS)
def test_every_pair_of_shapes_round_trips_every_turn(tmp_path: Path, source: FileShape, target: FileShape) -> None:
    rows = [BUILD[source.format](turns, n) for n, turns in enumerate(CONVERSATIONS.values())]
    samples = read_back(write_file(tmp_path / f"in.{source.container}", rows, source.container))
    assert [turns_of(s) for s in samples] == list(CONVERSATIONS.values())
    out = tmp_path / f"out.{target.container}"
    write_samples(out, samples, target)
    again = read_back(out)
    assert [turns_of(s) for s in again] == list(CONVERSATIONS.values())
    assert [s.id for s in again] == [s.id for s in samples]
    extras = [{k: v for k, v in r.items() if k in ("id", "category", "source")} for r in rows]
    assert [{k: s.origin.record.get(k) for k in e} for s, e in zip(again, extras, strict=True)] == extras
    if source == target and source.container != "parquet":  # Parquet fills absent columns with null
        assert [s.origin.record for s in again] == rows


@pytest.mark.parametrize("name", IRREGULAR)
@pytest.mark.parametrize("source", [s for s in SHAPES if s.format != "alpaca"], ids=[i for i in IDS if "alpaca" not in i])
def test_a_conversation_alpaca_cannot_hold_is_refused_by_name(tmp_path: Path, source: FileShape, name: str) -> None:
    rows = [BUILD[source.format](IRREGULAR[name], 0)]
    [sample] = read_back(write_file(tmp_path / f"in.{source.container}", rows, source.container))
    assert turns_of(sample) == IRREGULAR[name]
    for target in [s for s in SHAPES if s.format != "alpaca"]:  # the chat formats hold it
        write_samples(tmp_path / f"ok.{target.container}", [sample], target)
        assert [turns_of(s) for s in read_back(tmp_path / f"ok.{target.container}")] == [IRREGULAR[name]]
    from assay.core.formats import ConversionError

    out = tmp_path / "out.jsonl"
    with pytest.raises(ConversionError, match=f"sample {sample.id} \\(in.{source.container}.*without losing turns"):
        write_samples(out, [sample], FileShape("jsonl", "alpaca"))
    assert not out.exists()


def test_a_four_turn_sharegpt_conversation_as_alpaca_keeps_all_four_turns() -> None:
    turns = [Message(role=r, content=t) for r, t in CONVERSATIONS["four_turns"]]
    sample = Sample.create(turns, source="chat.json[0]", origin=Origin(format="sharegpt"))
    record = sample_to_record(sample, "alpaca")
    assert record == {"instruction": "Q4", "input": "", "output": "A4",
                      "history": [["Q1", "A1"], ["Q2", "A2"], ["Q3", "A3"]]}


def test_each_sample_defaults_to_its_own_format() -> None:
    turns = [Message(role=r, content=t) for r, t in CONVERSATIONS["system"]]
    for fmt in ("alpaca", "sharegpt", "openai"):
        record = sample_to_record(Sample.create(turns, origin=Origin(format=fmt)))
        assert set(record) & {"instruction", "conversations", "messages"} == {
            {"alpaca": "instruction", "sharegpt": "conversations", "openai": "messages"}[fmt]}


def test_alpaca_history_errors_name_the_field(tmp_path: Path) -> None:
    from assay.core.errors import InputError
    from assay.pipeline.intake.ingest import read_inputs

    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps({"instruction": "q", "output": "a", "history": [["q0", 5]]}) + "\n")
    with pytest.raises(InputError) as caught:
        read_inputs([path], skip_invalid=False, max_record_bytes=10**7)
    assert caught.value.field == "history[0][1]"


def test_a_rewrite_keeps_its_parents_fields_and_unchanged_input_split() -> None:
    from assay.agents.rewriter import Rewrite, apply_rewrite
    from assay.core.formats import record_to_sample

    parent = record_to_sample({"id": 7, "instruction": "Translate.", "input": "cat", "output": "chien", "src": "x"},
                              "alpaca", "p.jsonl:1")
    child = apply_rewrite(parent, Rewrite(response="chat"))
    assert sample_to_record(child, inherit=parent.origin) == {
        "id": 7, "instruction": "Translate.", "input": "cat", "output": "chat", "src": "x"}
    changed = apply_rewrite(parent, Rewrite(instruction="Translate cat to French.", response="chat"))
    assert sample_to_record(changed, inherit=parent.origin) == {
        "id": 7, "instruction": "Translate cat to French.", "input": "", "output": "chat", "src": "x"}
