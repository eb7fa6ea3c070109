"""The rubric editor has a model setting of its own, as every agent role does: `[models] rubric_editor`
(unset: the judge's model), so the editor can be a stronger model than the judge."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from assay.core.config import Models
from assay.llm.transport import CompletionRequest
from assay.testing.openai_server import OpenAIWireServer, Reply
from tests.rubric_world import World, decided_items, world_session
from tests.test_rubric_cli import invoke


def test_the_editor_falls_back_to_the_judge_then_the_default() -> None:
    assert Models(default="d", judge="j", rubric_editor="e").for_role("rubric_editor") == "e"
    assert Models(default="d", judge="j").for_role("rubric_editor") == "j"  # the editor writes the judge's rubric
    assert Models(default="d").for_role("rubric_editor") == "d"
    assert Models(default="d", rubric_editor="e").for_role("judge") == "d"  # no other role reads it


def test_the_editors_requests_carry_its_configured_model(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    session.close()
    recipe = tmp_path / "editor.toml"
    recipe.write_text('[models]\nrubric_editor = "openai/strong-editor"\n')
    world, sent = World(), []

    def reply(body: dict) -> Reply:
        sent.append(body["model"])
        return Reply.text(world(CompletionRequest(body["model"], body["messages"])), prompt_tokens=100,
                          completion_tokens=20)

    with OpenAIWireServer(default=reply) as server:
        result = invoke(runtime, "rubric", "refine", str(session.dir), "--model", "openai/fake",
                        "--recipe", str(recipe), "--no-rank-pending", base=server.base_url)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(session.dir / "session.db")
    try:
        models = dict(conn.execute("SELECT agent, GROUP_CONCAT(DISTINCT model) FROM llm_calls GROUP BY agent"))
    finally:
        conn.close()
    assert models["rubric_editor"] == "openai/strong-editor" and models["judge"] == "openai/fake"
    assert {"strong-editor", "fake"} <= set(sent)  # what went over the wire, per request
