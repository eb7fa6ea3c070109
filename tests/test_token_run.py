"""`[tokens] enabled = true` inside `assay run`: after selection the curated samples' tokens are scored
(a tiny random Llama as the reference), the masks stored, token_masks.jsonl written beside
curated.jsonl and the report shows them; a resumed export scores only what is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assay.core.config import Config, Targets
from assay.graphs.state import CurationState
from assay.pipeline.deps import CurationDeps, RunOptions
from assay.pipeline.export import export_run
from assay.report.write import write_report
from assay.session.session import Session
from assay.session.token_masks import iter_masks
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.curation_world import CurationWorld
from tests.test_curation_graph import run_graph, write_pool

pytest.importorskip("torch")
from tests.token_world import save_tiny  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny") / "model")


def open_session(tmp_path: Path, runtime: Any, tokens: dict[str, Any]) -> Session:
    config = Config.model_validate({"targets": Targets(size=5, quality_floor=3.0).model_dump(), "tokens": tokens})
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    session.gateway = scripted_gateway(session, ScriptedTransport(default=CurationWorld()))  # type: ignore[misc]
    return session


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_a_run_with_tokens_enabled_masks_the_curated_set_and_exports_the_masks(tmp_path, runtime, tiny) -> None:
    session = open_session(tmp_path, runtime, {"enabled": True, "reference": str(tiny), "mask_share": 0.25})
    state, _ = await run_graph(session, RunOptions(inputs=[str(write_pool(tmp_path / "pool.jsonl"))]))
    assert state.stop_reason == "targets_met"
    selected = sorted(s.id for s in session.samples.iter() if s.status.value == "selected")
    assert len(selected) == 5
    masks = list(iter_masks(session.conn))
    assert sorted(m.sample_id for m in masks) == selected  # the curated set, nothing else
    assert all(m.scorer and m.tokenizer == str(tiny) and 0 < m.masked < m.total for m in masks)
    path = session.dir / "token_masks.jsonl"
    assert state.exported["token_masks"] == str(path)
    rows = lines(path)
    assert sorted(r["id"] for r in rows) == selected and len(lines(session.dir / "curated.jsonl")) == 5
    for row in rows:
        assert row["tokenizer"] == str(tiny) and len(row["input_ids"]) == len(row["labels"])
        assert row["masked_tokens"] > 0 and any(m.get("mask_spans") for m in row["messages"])
        assert -100 in row["labels"] and any(label != -100 for label in row["labels"])
    # Traced as a stage: the scoring's event, and its share in the report.
    (event,) = session.conn.execute("SELECT data FROM events WHERE kind = 'tokens'").fetchall()
    assert json.loads(event[0])["samples"] == 5
    report = (session.dir / "report.html").read_text(encoding="utf-8")
    total, masked = sum(m.total for m in masks), sum(m.masked for m in masks)
    assert 'id="tokens"' in report and f"{masked:,} of {total:,} response tokens masked" in report
    session.close()


async def test_a_resumed_export_scores_only_the_samples_without_a_mask(tmp_path, runtime, tiny, monkeypatch) -> None:
    session = open_session(tmp_path, runtime, {"enabled": True, "reference": str(tiny)})
    state, _ = await run_graph(session, RunOptions(inputs=[str(write_pool(tmp_path / "pool.jsonl"))]))
    first = {m.sample_id: m for m in iter_masks(session.conn)}
    lost = sorted(first)[0]
    with session.conn:  # as if the export was killed before this sample's mask was stored
        session.conn.execute("DELETE FROM token_masks WHERE sample_id = ?", (lost,))
    import assay.pipeline.tokens.run as token_run

    asked: list[list[str]] = []
    real = token_run.score_session_tokens

    def spy(session: Any, settings: Any, *, sample_ids: Any = None, **kwargs: Any) -> Any:
        asked.append(list(sample_ids))
        return real(session, settings, sample_ids=sample_ids, **kwargs)

    monkeypatch.setattr(token_run, "score_session_tokens", spy)
    deps = CurationDeps(session=session, options=RunOptions(), write_report=write_report)
    written = export_run(deps, CurationState.model_validate(state.model_dump()))
    assert asked == [[lost]]  # the other four were kept, not scored again
    again = {m.sample_id: m for m in iter_masks(session.conn)}
    assert set(again) == set(first) and all(again[i] == first[i] for i in first if i != lost)
    assert sorted(r["id"] for r in lines(written["token_masks"])) == sorted(first)
    export_run(deps, CurationState.model_validate(state.model_dump()))
    assert asked == [[lost]]  # everything stored: nothing scored
    last = session.conn.execute("SELECT message, data FROM events WHERE kind = 'tokens' ORDER BY id DESC").fetchone()
    assert "all 5 curated samples already scored" in last[0]
    assert json.loads(last[1]) == {"curated": 5, "already_stored": 5, "scored": 0}
    session.close()


async def test_a_run_without_tokens_writes_no_masks(tmp_path, runtime) -> None:
    session = open_session(tmp_path, runtime, {})
    state, _ = await run_graph(session, RunOptions(inputs=[str(write_pool(tmp_path / "pool.jsonl"))]))
    assert "token_masks" not in state.exported and not (session.dir / "token_masks.jsonl").exists()
    assert list(iter_masks(session.conn)) == []
    assert 'id="tokens"' not in (session.dir / "report.html").read_text(encoding="utf-8")
    session.close()
