"""`assay tokens` end to end on a tiny random Llama saved to a folder: a file, and a session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.config import Config
from assay.core.records import Message, Sample, Status
from assay.session.session import Session
from assay.session.token_masks import iter_masks, masked_share_by_cluster
from assay.tools.token_labels import IGNORE
from assay.tools.token_masks_cut import share_count

pytest.importorskip("transformers")
from tests.token_world import byte_tokenizer, save_tiny  # noqa: E402

ALPACA = [{"instruction": "Name a colour.", "input": "", "output": "Blue, like the clear sky at noon."},
          {"instruction": "Add the numbers.", "input": "2 and 3", "output": "2 + 3 = 5, so the sum is five."},
          {"instruction": "Greet me.", "input": "", "output": "Hello! It is good to see you today."}]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny_llama"))


def check_line(line: dict, tokenizer) -> None:
    """Labels are the ids on unmasked response tokens (and end-of-turn tokens), -100 elsewhere."""
    ids, labels = line["input_ids"], line["labels"]
    assert len(ids) == len(labels) and all(label in (IGNORE, i) for i, label in zip(ids, labels))
    answer = line["messages"][-1]
    kept = list(answer["content"])
    for start, end in answer["mask_spans"]:
        kept[start:end] = [""] * (end - start)
    trained = tokenizer.decode([label for label in labels if label != IGNORE])
    assert trained == "".join(kept) + "<|im_end|>"  # byte tokens: one per character here (ASCII)


def test_cli_on_a_file_writes_spans_and_labels(tmp_path: Path, model_dir: Path) -> None:
    data = tmp_path / "alpaca.json"
    data.write_text(json.dumps(ALPACA))
    out = tmp_path / "masks.jsonl"
    result = CliRunner().invoke(app, ["tokens", str(data), "--reference", str(model_dir), "--out", str(out),
                                      "--mask-share", "0.25", "--scope", "sample", "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3 and summary["samples"] == 3 and summary["stored"] is False
    tokenizer = byte_tokenizer()
    for line, record in zip(lines, ALPACA, strict=True):
        assert line["tokenizer"] == str(model_dir) and line["messages"][-1]["content"] == record["output"]
        assert line["masked_tokens"] == share_count(0.25, len(record["output"])) == \
            sum(e - s for s, e in line["messages"][-1]["mask_spans"])
        check_line(line, tokenizer)
    assert summary["tokens"] == sum(len(r["output"]) for r in ALPACA)


def test_cli_labels_under_another_tokenizer(tmp_path: Path, model_dir: Path) -> None:
    data = tmp_path / "alpaca.json"
    data.write_text(json.dumps(ALPACA[:1]))
    plain = tmp_path / "plain_tok"
    byte_tokenizer(chat=False).save_pretrained(plain)
    out = tmp_path / "masks.jsonl"
    result = CliRunner().invoke(app, ["tokens", str(data), "--reference", str(model_dir), "--out", str(out),
                                      "--tokenizer", str(plain), "--mask-share", "0.3"])
    assert result.exit_code == 0, result.output
    line = json.loads(out.read_text())
    assert line["tokenizer"] == str(plain)
    text = byte_tokenizer(chat=False).decode(line["input_ids"])
    assert text.startswith("### Instruction:\nName a colour.\n\n### Response:\n")  # the other template
    check_line(line, byte_tokenizer(chat=False))


def test_cli_on_a_session_stores_masks_of_the_curated_samples(tmp_path: Path, runtime, model_dir: Path) -> None:
    directory = tmp_path / "s"
    session = Session.open(directory, runtime, Config(), create=True)
    try:
        samples = [Sample.create([Message(role="user", content=r["instruction"]),
                                  Message(role="assistant", content=r["output"])], tags={"cluster": [str(i % 2)]})
                   for i, r in enumerate(ALPACA)]
        chat = Sample.create([Message(role="user", content="Hi"), Message(role="assistant", content="Hi, how can I help?"),
                              Message(role="user", content="Tell a joke."),
                              Message(role="assistant", content="Why did the chicken cross the road?")])
        session.samples.insert([*samples, chat])
        session.samples.set_status([samples[0].id, chat.id], Status.SELECTED, None)
    finally:
        session.close()
    out = tmp_path / "masks.jsonl"
    env = {"ASSAY_HOME": runtime.env["ASSAY_HOME"], "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["tokens", str(directory), "--reference", str(model_dir), "--out", str(out)],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "masks stored in the session" in result.output and "tokens/s" in result.output
    session = Session.open_read_only(directory, runtime)
    try:
        masks = {m.sample_id: m for m in iter_masks(session.conn)}
        assert set(masks) == {samples[0].id, chat.id}  # the curated ones, not the active ones
        assert {t.turn for t in masks[chat.id].tokens} == {1, 3}  # both assistant turns
        total = sum(m.total for m in masks.values())
        assert sum(m.masked for m in masks.values()) == share_count(0.2, total)
        assert masked_share_by_cluster(session.conn) == [
            ("unclustered", masks[chat.id].total, masks[chat.id].masked), ("0", masks[samples[0].id].total,
                                                                          masks[samples[0].id].masked)]
        events = session.conn.execute("SELECT data FROM events WHERE kind = 'tokens'").fetchall()
        assert len(events) == 1 and json.loads(events[0][0])["tokens"] == total
    finally:
        session.close()
    lines = {json.loads(x)["id"]: json.loads(x) for x in out.read_text().splitlines()}
    chat_line = lines[chat.id]
    assert [m.get("mask_spans") is not None for m in chat_line["messages"]] == [False, True, False, True]
    assert sum(label != IGNORE for label in chat_line["labels"]) == \
        masks[chat.id].total - masks[chat.id].masked + 2  # the unmasked tokens and two end-of-turn tokens


def test_cli_refuses_a_file_without_out(tmp_path: Path) -> None:
    data = tmp_path / "alpaca.json"
    data.write_text(json.dumps(ALPACA))
    result = CliRunner().invoke(app, ["tokens", str(data)])
    assert result.exit_code != 0 and "pass --out" in str(result.exception)  # said before any model loads


@pytest.mark.slow
def test_cli_with_the_embedded_smollm2(tmp_path: Path) -> None:
    """The default scorer, end to end: SmolLM2 scores, its own tokenizer labels."""
    from assay.tools.causal_lm import load_tokenizer

    data = tmp_path / "alpaca.json"
    data.write_text(json.dumps(ALPACA))
    out = tmp_path / "masks.jsonl"
    result = CliRunner().invoke(app, ["tokens", str(data), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    tokenizer = load_tokenizer(None)
    total = sum(line["scored_tokens"] for line in lines)
    assert sum(line["masked_tokens"] for line in lines) == share_count(0.2, total)
    for line in lines:
        assert line["tokenizer"].startswith("embedded:SmolLM2")
        ids, labels = line["input_ids"], line["labels"]
        trained = tokenizer.decode([label for label in labels if label != IGNORE])
        answer = line["messages"][-1]
        kept = list(answer["content"])
        for start, end in answer["mask_spans"]:
            kept[start:end] = [""] * (end - start)
        assert trained == "".join(kept) + "<|im_end|>"  # SmolLM2's BPE tokens align with the spans
        assert labels[: ids.index(tokenizer.convert_tokens_to_ids("<|im_start|>"), 1)] == \
            [IGNORE] * ids.index(tokenizer.convert_tokens_to_ids("<|im_start|>"), 1)  # the system prompt


def test_the_rate_column_shows_slow_rates() -> None:
    # Scoring on a CPU runs under one sample a second: the bar must not read "0/s".
    from assay.cli.rate_progress import rate_bar

    bar = rate_bar()
    bar.add_task("scoring response tokens", total=20)
    task = bar.tasks[0]
    task.start_time, task.completed = bar.get_time() - 4.0, 1
    rate = next(c for c in bar.columns if type(c).__name__ == "RateColumn")
    assert rate.render(task).plain == "0.25/s"
    task.completed = 400
    assert rate.render(task).plain == "100/s"
